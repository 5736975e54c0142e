"""Turns on the one Docker engine that every stack test shares, across pytest-xdist workers
and across pytest runs on the same machine.

Most stack tests only use the engine: they hold a shared turn while they run, set-up and
tear-down included, so several run at once. A test that stops the engine (marked
`restarts_engine`) holds the only turn: it waits for the running ones to finish, and none
starts until it is done. The files whose tests prune or watch what all share (marked `alone`)
run back to back on one worker and hold the only turn from their first test's set-up to their
last test's tear-down: their module fixtures prune the build cache too, and between two of
their tests another file's build would meet a cache half pruned. The lock files are
`flock`ed, so a killed run releases its turn.

Linux's flock does not queue waiters, so a steady stream of shared turns could keep the
exclusive one waiting for ever. A turnstile prevents that: every taker passes it first, and
the exclusive taker keeps it closed while it waits, so no new shared turn begins meanwhile."""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Literal

DIRECTORY = Path(tempfile.gettempdir())
# How long the other workers wait for the `alone` files to begin before they go on regardless
# (their worker failed to start, say): longer than a worker's start-up on a loaded machine.
ALONE_PATIENCE = 300.0


@contextmanager
def _flocked(path: Path, operation: int) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, operation)
        yield
    finally:
        os.close(descriptor)  # closing the description releases its lock


@contextmanager
def shared_turn(directory: Path = DIRECTORY) -> Iterator[None]:
    """A turn beside the other shared ones; it waits while an exclusive turn is held or
    waited for."""
    descriptor = os.open(directory / "barycenter-engine.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with _flocked(directory / "barycenter-engine.turnstile", fcntl.LOCK_EX):
            fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


@contextmanager
def exclusive_turn(directory: Path = DIRECTORY) -> Iterator[None]:
    """The only turn: taken once every shared turn held now has ended."""
    with (
        _flocked(directory / "barycenter-engine.turnstile", fcntl.LOCK_EX),
        _flocked(directory / "barycenter-engine.lock", fcntl.LOCK_EX),
    ):
        yield


def stack_up_turn(directory: Path = DIRECTORY) -> AbstractContextManager[None]:
    """One `stack.up` at a time: the workers that ask while one brings the stack up wait."""
    return _flocked(directory / "barycenter-stack-up.lock", fcntl.LOCK_EX)


TurnKind = Literal["shared", "exclusive", "alone"]


class Turns:
    """The turn each stack test of one pytest process takes, in the order they run: the tests
    of `alone` files hold the only turn from the first to the last of a run of them, other tests
    take one each."""

    def __init__(self, directory: Path = DIRECTORY) -> None:
        self.directory = directory
        self.held = ExitStack()  # the only turn, while `alone` tests run one after another
        self.holding = False
        self.run_going_alone_first: str | None = None
        self.made_flag = False

    def alone_first(self, run: str) -> None:
        """The `alone` files of the test run `run` (its pytest-xdist id) go first, on another
        worker: this process's first stack test waits until they hold the engine. Otherwise it
        could take a shared turn a moment before they ask, and they would wait for that whole
        test (a rehearsal: 217 s in CI) with the other workers held back behind them."""
        self.run_going_alone_first = run

    def flag(self, run: str) -> Path:
        """Made when the `alone` files of the test run `run` hold the engine."""
        return self.directory / f"barycenter-engine.alone-began-{run}"

    def wait_for_the_alone_files(self) -> None:
        run, self.run_going_alone_first = self.run_going_alone_first, None
        if run is None:
            return
        deadline = time.monotonic() + ALONE_PATIENCE
        while time.monotonic() < deadline and not self.flag(run).exists():
            time.sleep(0.2)

    def forget(self, run: str) -> None:
        """At the end of the test run: its flag, if this process made it."""
        if self.made_flag:
            self.flag(run).unlink(missing_ok=True)

    @contextmanager
    def around(self, kind: TurnKind, next_is_alone: bool) -> Iterator[None]:
        """Hold the turn a test needs while it runs: "shared", "exclusive" (for this test), or
        "alone" (kept while the test that runs next in this process, `next_is_alone`, is of an
        `alone` file too: such files run back to back, tests/conftest.py)."""
        if kind != "alone":
            self.release()
            if self.run_going_alone_first is not None:
                self.wait_for_the_alone_files()
            with (exclusive_turn if kind == "exclusive" else shared_turn)(self.directory):
                yield
            return
        if not self.holding:
            self.held.enter_context(exclusive_turn(self.directory))
            self.holding = True
            if self.run_going_alone_first is not None:
                self.flag(self.run_going_alone_first).touch()
                self.made_flag = True
                self.run_going_alone_first = None
        try:
            yield
        finally:
            if not next_is_alone:
                self.release()

    def release(self) -> None:
        self.held.close()
        self.holding = False
