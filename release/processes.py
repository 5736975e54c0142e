"""Running programs: the one place the release starts a process (git, docker, cosign).

Each run has a timeout (or none, for local git reads of any size), a process group chosen for
how the program must be stopped, and secrets kept out of what it returns and of every error.

Ctrl-C. A program in our own process group (git, cosign) gets the terminal's SIGINT as we do,
and is waited for while it cleans up, for up to SIGINT_GRACE seconds (a second Ctrl-C ends the
wait), then killed. Git relies on it: on SIGINT it removes its `index.lock` and ref locks and
rolls back, and only then can a rerun converge. `subprocess.run` kills after a quarter of a
second, which a loaded machine's git can miss (CI did: a commit killed holding `index.lock`).
A program that must be stopped whole (`docker buildx`, whose plugin holds our pipes) runs in a
session of its own and is stopped as a group: SIGTERM, then SIGKILL after a grace.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from release.errors import ReleaseError

MASK = "***"
GROUP_GRACE = 10.0  # seconds a stopped group gets between SIGTERM and SIGKILL
SIGINT_GRACE = 10.0  # seconds a child in our group gets to clean up after Ctrl-C
# on_output's pieces: large enough to cost few calls, small enough that parsing one takes
# less time than the program needs to fill the widened pipe meanwhile.
PIECE = 1 << 16
PIPE_SIZE = 1 << 20


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def redact_bytes(data: bytes, secrets: Sequence[str]) -> bytes:
    for secret in secrets:
        if secret:
            data = data.replace(secret.encode(), MASK.encode())
    return data


@dataclass(frozen=True)
class Finished:
    """A program that ran to its end; secrets are already masked in all of it."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def out(self) -> str:
        return self.stdout.decode(errors="replace")

    @property
    def err(self) -> str:
        return self.stderr.decode(errors="replace")


class ProcessTimeoutError(ReleaseError):
    """The program did not finish within its timeout and was stopped; callers say what that
    means for them (a registry that does not answer, usually)."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.argv = tuple(argv)
        self.timeout = timeout
        super().__init__(
            f"`{' '.join(self.argv[:2])}` did not finish within {timeout:g} s",
            "check what it waits for, then run the same command again",
        )


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float | None = None,
    own_group: bool = False,
    secrets: Sequence[str] = (),
    large_output: bool = False,
    on_output: Callable[[bytes], None] | None = None,
    missing_fix: str = "",
) -> Finished:
    """Run `argv` to its end, capturing its output; a non-zero exit is the caller's to judge.

    `own_group` runs it in a session of its own, stopped as a group on timeout or interrupt.
    `large_output` reads stdout in one read rather than communicate()'s select loop (megabytes
    of `git log` come back faster); no timeout applies then.
    `on_output`, with `large_output`, is given stdout piece by piece as the program writes it
    (a 50k-commit `git rev-list` is parsed while git still reads); stdout then comes back empty.
    Raises ProcessTimeoutError, or a ReleaseError naming `missing_fix` when it cannot start.
    """
    bare_read = large_output and stdin is None and timeout is None
    if on_output is not None and (not bare_read or secrets):
        # Its pieces are handed on as they come: a secret cut across two could not be masked.
        raise ValueError("on_output reads a large_output with no stdin, timeout or secrets")
    command = [str(part) for part in argv]
    shown = tuple(redact(part, secrets) for part in command)
    # stderr goes to a file, not a pipe. A pipe would be read to its end, and a program's
    # own child may keep it open long after the program ended: a hook's background job, ssh's
    # ControlPersist master. And a bare read reads stdout whole first: a program saying more
    # than a pipe holds on stderr meanwhile (a warning per broken ref) would wait for us, and
    # we for it.
    errors = unnamed_file()
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            start_new_session=own_group,
        )
    except OSError as failure:
        errors.close()
        name = Path(command[0]).name if command else "the program"
        raise ReleaseError(
            f"cannot run {name} ({failure.strerror})", missing_fix or f"install {name}"
        ) from None
    with process, errors:
        try:
            if on_output is not None:
                widen_pipe(process.stdout)
                while piece := process.stdout.read(PIECE):  # type: ignore[union-attr]
                    on_output(piece)
                stdout = b""
                process.wait()
                stderr = written(errors)
            elif bare_read:
                stdout = process.stdout.read()  # type: ignore[union-attr]
                process.wait()
                stderr = written(errors)
            else:
                stdout = process.communicate(stdin, timeout=timeout)[0]
                stderr = written(errors)
        except subprocess.TimeoutExpired:
            stop(process, own_group)
            raise ProcessTimeoutError(shown, timeout or 0) from None
        except KeyboardInterrupt:
            if not own_group:
                # Let it clean up and exit, unless Ctrl-C comes again. A terminal's Ctrl-C has
                # reached it already; a SIGTERM to us alone (made our KeyboardInterrupt) has not.
                with contextlib.suppress(subprocess.TimeoutExpired, KeyboardInterrupt):
                    if process.poll() is None:
                        process.send_signal(signal.SIGINT)
                    process.wait(SIGINT_GRACE)
            stop(process, own_group)
            raise
        except BaseException:
            stop(process, own_group)
            raise
    return Finished(
        shown, process.returncode, redact_bytes(stdout, secrets), redact_bytes(stderr, secrets)
    )


def unnamed_file() -> IO[bytes]:
    """A file with no name, gone once closed: in memory on Linux, else a temporary file
    (imported only there: tempfile costs start-up)."""
    if hasattr(os, "memfd_create"):
        return os.fdopen(os.memfd_create("stderr", os.MFD_CLOEXEC), "w+b")
    import tempfile

    return tempfile.TemporaryFile()


def written(file: IO[bytes]) -> bytes:
    """What a program wrote into `file`, from its start."""
    file.seek(0)
    return file.read()


def widen_pipe(pipe: IO[bytes] | None) -> None:
    """Let the program write ahead while we parse what it wrote (Linux: a pipe holds 64 KiB
    unless told otherwise; the system's limit may refuse more, which only costs speed)."""
    size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if pipe is not None and size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), size, PIPE_SIZE)


def stop(process: subprocess.Popen[bytes], group: bool) -> None:
    """Kill the process (as subprocess.run does); for a group of its own, SIGTERM the group
    (buildx then cancels its requests) and SIGKILL what is left after a grace period, whatever
    interrupts the wait."""
    if not group:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=GROUP_GRACE)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def interrupt_children(*words: str) -> None:
    """SIGINT, as Ctrl-C would, to each of our own child processes whose command line holds
    every one of `words`: for the programs a library started for us (python-on-whales' buildx
    build streams its log from a process it keeps to itself), so one of several parallel runs
    can be stopped while the others finish."""
    me = str(os.getpid())
    wanted = [word.encode() for word in words]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = stat.rsplit(")", 1)[1].split()[1]
        if parent == me and all(word in command for word in wanted):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGINT)
