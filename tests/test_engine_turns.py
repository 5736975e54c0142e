"""The stack tests' turns on the shared Docker engine (tests/engine_turns.py): shared turns
run together; an exclusive turn waits for them and holds back the shared turns asked after
it, so the test that restarts the engine neither cuts off a build nor waits for ever."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from tests.engine_turns import exclusive_turn, shared_turn

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
