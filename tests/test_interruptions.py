"""A run stopped from outside, or by a full disk: one line naming what to do, the shell's status
for the signal, nothing half-written left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from release import commands
from release.dist import write_atomically
from release.errors import ReleaseError


@pytest.fixture
def default_sigterm() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopped_by(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(5)  # the handler interrupts this at once
    raise AssertionError("the signal did not stop the run")


@pytest.mark.usefixtures("default_sigterm")
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigterm_stops_a_run_as_ctrl_c_does_with_its_own_status(signum: int, status: int) -> None:
    with pytest.raises(Exit) as stopped:
        commands.run(lambda: stopped_by(signum))
    assert stopped.value.code == status
    message = str(stopped.value.message)
    assert message.startswith("error: interrupted") and "\n" not in message
    assert "run the same command again" in message


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
