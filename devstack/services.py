"""Background services the stack starts itself, tracked by PID file so it stops only those."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from devstack.paths import StackPaths
from release.errors import ReleaseError


@dataclass(frozen=True)
class Service:
    name: str
    argv: Sequence[str]
    ready: Callable[[], bool]
    # dockerd writes its own PID file; the others are recorded by us.
    own_pidfile: Path | None = None
    # The fix for a start that failed with this last log line, if the service knows one.
    fix: Callable[[str], str | None] = lambda last_line: None


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); its state letter says it is gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(check: Callable[[], bool], seconds: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def start(service: Service, paths: StackPaths, timeout: float = 60.0) -> int:
    """Start the service unless our PID file names a live process; return its PID."""
    pidfile = service.own_pidfile or paths.pidfile(service.name)
    running = read_pid(pidfile)
    if running is not None and service.ready():
        return running
    logfile = paths.logfile(service.name)
    log = logfile.open("ab")
    # The log is kept across starts: only what this start wrote explains its failure.
    start_offset = log.tell()
    process = subprocess.Popen(
        list(service.argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    if service.own_pidfile is None:
        pidfile.write_text(f"{process.pid}\n")
    if not wait_until(lambda: service.ready() or process.poll() is not None, timeout):
        raise ReleaseError(
            f"{service.name} did not become ready in {timeout:.0f} s"
            + said(last_line(logfile, start_offset)),
            f"read {logfile}",
        )
    if process.poll() is not None:
        last = last_line(logfile, start_offset)
        fix = service.fix(last)
        raise ReleaseError(
            f"{service.name} exited with status {process.returncode}" + said(last),
            f"{fix} (log: {logfile})" if fix else f"read {logfile}",
        )
    return process.pid


def last_line(logfile: Path, offset: int) -> str:
    """The last line this start wrote to its log: a traceback's last line is its error."""
    try:
        with logfile.open("rb") as log:
            log.seek(offset)
            written = log.read()[-4096:].decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in written.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def said(line: str) -> str:
    return f" ({line})" if line else ""


def stop(name: str, pidfile: Path, timeout: float = 30.0) -> bool:
    """Stop the process our PID file names; return whether there was one."""
    pid = read_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    if not wait_until(lambda: not pid_alive(pid), timeout):
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), 5)
    pidfile.unlink(missing_ok=True)
    return True
