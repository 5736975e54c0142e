"""The stack tests' turns on the shared Docker engine (tests/engine_turns.py): shared turns
run together; an exclusive turn waits for them and holds back the shared turns asked after
it, so the test that restarts the engine neither cuts off a build nor waits for ever; an
run of `alone` files holds the only turn from its first test to its last, and the `alone`
files are handed out to one worker, as one unit."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.conftest import ALONE_FILES, ALONE_UNIT, work_unit
from tests.engine_turns import Turns, exclusive_turn, shared_turn

PATIENCE = 10.0  # what a turn that should come is given
GLANCE = 0.3  # how long a turn that should not come is watched for


class Holder:
    """A thread that takes a turn, says so, and keeps it until released."""

    def __init__(self, turn: Callable[[], AbstractContextManager[None]], log: list[str], name: str):
        self.taken = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.hold, args=(turn, log, name), daemon=True)
        self.thread.start()

    def hold(
        self, turn: Callable[[], AbstractContextManager[None]], log: list[str], name: str
    ) -> None:
        with turn():
            log.append(name)
            self.taken.set()
            self.release.wait(PATIENCE)

    def end(self) -> None:
        self.release.set()
        self.thread.join(PATIENCE)


def test_shared_turns_are_held_at_the_same_time(tmp_path: Path) -> None:
    log: list[str] = []
    first = Holder(lambda: shared_turn(tmp_path), log, "first")
    assert first.taken.wait(PATIENCE)
    second = Holder(lambda: shared_turn(tmp_path), log, "second")
    assert second.taken.wait(PATIENCE), "a second shared turn waited for the first"
    first.end()
    second.end()


def test_an_exclusive_turn_waits_for_the_shared_ones_and_goes_before_later_ones(
    tmp_path: Path,
) -> None:
    log: list[str] = []
    running = Holder(lambda: shared_turn(tmp_path), log, "running build")
    assert running.taken.wait(PATIENCE)
    restart = Holder(lambda: exclusive_turn(tmp_path), log, "engine restart")
    assert not restart.taken.wait(GLANCE), "the restart did not wait for the running build"
    later = Holder(lambda: shared_turn(tmp_path), log, "later build")
    assert not later.taken.wait(GLANCE), "a build began while the restart waited"

    running.end()
    assert restart.taken.wait(PATIENCE)
    assert not later.taken.wait(GLANCE), "a build began during the restart"
    restart.end()
    assert later.taken.wait(PATIENCE)
    later.end()
    assert log == ["running build", "engine restart", "later build"]


def test_alone_files_hold_the_only_turn_from_their_first_test_to_their_last(
    tmp_path: Path,
) -> None:
    log: list[str] = []
    turns = Turns(tmp_path)
    with turns.around("alone", next_is_alone=True):
        log.append("first test of test_prunes.py")
    # Between its tests, as its module fixture prunes the cache: nobody else builds.
    other = Holder(lambda: shared_turn(tmp_path), log, "other file's build")
    assert not other.taken.wait(GLANCE), "another file built between two tests of an alone file"
    with turns.around("alone", next_is_alone=True):
        log.append("last test of test_prunes.py")
    # Nor between two alone files that run back to back.
    assert not other.taken.wait(GLANCE), "another file built between two alone files"
    with turns.around("alone", next_is_alone=False):
        log.append("only test of test_watches.py")
    assert other.taken.wait(PATIENCE), "the alone files kept the turn after their last test"
    other.end()
    assert log == [
        "first test of test_prunes.py",
        "last test of test_prunes.py",
        "only test of test_watches.py",
        "other file's build",
    ]


def test_an_alone_file_waits_for_running_tests_and_its_last_test_may_be_the_runs_last(
    tmp_path: Path,
) -> None:
    running = Holder(lambda: shared_turn(tmp_path), [], "running build")
    assert running.taken.wait(PATIENCE)
    log: list[str] = []
    alone = Holder(lambda: Turns(tmp_path).around("alone", next_is_alone=False), log, "alone")
    assert not alone.taken.wait(GLANCE), "the alone file did not wait for the running build"
    running.end()
    assert alone.taken.wait(PATIENCE)
    alone.end()
    later = Holder(lambda: exclusive_turn(tmp_path), log, "later")
    assert later.taken.wait(PATIENCE), "the run's last test kept the turn"
    later.end()


@pytest.mark.parametrize(
    ("nodeid", "unit"),
    [
        ("tests/stack/test_reproduce.py::test_a", ALONE_UNIT),
        ("tests/stack/test_dockerfile_builds.py::test_b[linux/arm64]", ALONE_UNIT),
        ("tests/stack/test_user_rehearsal.py::test_c", ALONE_UNIT),
        ("tests/stack/test_rehearsal.py::test_d", "tests/stack/test_rehearsal.py"),
        ("tests/e2e/test_release_sequence.py::test_e", "tests/e2e/test_release_sequence.py"),
    ],
)
def test_the_alone_files_are_one_unit_of_work_and_other_files_one_each(
    nodeid: str, unit: str
) -> None:
    assert work_unit(nodeid) == unit


def test_the_alone_files_are_the_files_marked_alone(repo_root: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "alone", "-p", "no:xdist"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    marked = {line.split("::", 1)[0] for line in listed.splitlines() if "::" in line}
    assert marked == set(ALONE_FILES)


def test_the_other_workers_first_stack_test_waits_until_the_alone_files_hold_the_engine(
    tmp_path: Path,
) -> None:
    log: list[str] = []
    alone_worker, other_worker = Turns(tmp_path), Turns(tmp_path)
    for turns in (alone_worker, other_worker):
        turns.alone_first("run-1")
    (tmp_path / "barycenter-engine.alone-began-run-0").touch()  # another run's
    other = Holder(lambda: other_worker.around("shared", next_is_alone=False), log, "rehearsal")
    assert not other.taken.wait(GLANCE), "a shared turn was taken before the alone files began"
    with alone_worker.around("alone", next_is_alone=False):
        log.append("alone files")
    assert other.taken.wait(PATIENCE), "the other worker did not go on after the alone files"
    other.end()
    assert log == ["alone files", "rehearsal"]
    for turns in (other_worker, alone_worker):
        turns.forget("run-1")
    assert sorted(p.name for p in tmp_path.glob("*alone-began*")) == [
        "barycenter-engine.alone-began-run-0"
    ]
