"""A run stopped from outside, or by a full disk: one line naming what to do, the shell's status
for the signal, nothing half-written left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from release import commands
from release.dist import write_atomically
from release.errors import ReleaseError
from tests.gitrepos import REPO_ROOT


@pytest.fixture(autouse=True)
def signals_as_they_were() -> Iterator[None]:
    """commands.run sets SIGTERM's handler, and ignores Ctrl-C once it has ended: in this
    process (pytest's), both go back afterwards."""
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stopped_by(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(5)  # the handler interrupts this at once
    raise AssertionError("the signal did not stop the run")


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigterm_stops_a_run_as_ctrl_c_does_with_its_own_status(signum: int, status: int) -> None:
    with pytest.raises(Exit) as stopped:
        commands.run(lambda: stopped_by(signum))
    assert stopped.value.code == status
    message = str(stopped.value.message)
    assert message.startswith("error: interrupted") and "\n" not in message
    assert "run the same command again" in message


# What the task's process does with a run's end (invoke prints Exit's message and exits with
# its code), with a signal landing while it exits: a second Ctrl-C from an impatient
# maintainer, or a CI runner's cancel as the run ends.
SIGNALLED_WHILE_EXITING = """
import os, signal, sys
from invoke.exceptions import Exit
from release import commands

def {action}
try:
    commands.run(action)
    message, code = None, 0
except Exit as stopped:
    message, code = stopped.message, stopped.code
os.kill(os.getpid(), signal.{signal})
if message:
    print(message, file=sys.stderr)
sys.exit(code)
"""
DONE = "action(): pass"
STOPPED = "action(): raise KeyboardInterrupt"
FAILED = "action(): raise commands.ReleaseError('no tag', 'tag it')"
STOPPED_LINE = "error: interrupted: run the same command again; it continues where it stopped"


def exiting(action: str, signal_name: str) -> tuple[int, list[str]]:
    script = SIGNALLED_WHILE_EXITING.format(action=action, signal=signal_name)
    exited = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        # As a terminal starts it: a shell's background job (CI) would start with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    return exited.returncode, exited.stderr.splitlines()


@pytest.mark.parametrize(
    ("action", "status", "said"),
    [(DONE, 0, []), (STOPPED, 130, [STOPPED_LINE]), (FAILED, 1, ["error: no tag: tag it"])],
    ids=["done", "stopped", "failed"],
)
def test_ctrl_c_while_exiting_keeps_the_status_and_the_one_line(
    action: str, status: int, said: list[str]
) -> None:
    assert exiting(action, "SIGINT") == (status, said)


@pytest.mark.parametrize("action", [DONE, FAILED], ids=["done", "failed"])
def test_sigterm_while_exiting_ends_the_process_as_sigterm_does_with_no_traceback(
    action: str,
) -> None:
    assert exiting(action, "SIGTERM") == (-signal.SIGTERM, [])


def test_ctrl_c_stops_the_next_run_in_the_same_process_again() -> None:
    """invoke runs every task named on its command line in one process: a run's end has Ctrl-C
    ignored while the process exits, and the next run gets it back."""
    commands.run(lambda: None)

    with pytest.raises(Exit) as stopped:
        commands.run(lambda: stopped_by(signal.SIGINT))
    assert stopped.value.code == 130


def test_a_full_disk_is_one_line_naming_it(tmp_path: Path) -> None:
    def fill() -> None:
        raise OSError(28, "No space left on device", str(tmp_path / "dist" / "x.tar.gz"))

    with pytest.raises(Exit) as failed:
        commands.run(fill)
    assert failed.value.code == 1
    assert str(failed.value.message) == (
        f"error: the disk is full writing {tmp_path / 'dist' / 'x.tar.gz'}: free space there, "
        "then run the same command again"
    )


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(tmp_path)], check=True)
    try:
        yield tmp_path
    finally:
        subprocess.run(["umount", str(tmp_path)], check=True)


def test_an_archive_that_does_not_fit_leaves_neither_it_nor_a_partial_file(
    tiny_disk: Path,
) -> None:
    with pytest.raises(ReleaseError) as failed:
        write_atomically(tiny_disk / "barycenter.tar.gz", os.urandom(256 * 1024))
    assert str(failed.value) == (
        f"the disk holding {tiny_disk} is full (262144 bytes of barycenter.tar.gz did not fit): "
        "free space there, then run the same command again"
    )
    assert list(tiny_disk.iterdir()) == []
