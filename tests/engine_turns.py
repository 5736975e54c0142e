"""Turns on the one Docker engine that every stack test shares, across pytest-xdist workers
and across pytest runs on the same machine.

Most stack tests only use the engine: they hold a shared turn while they run, set-up and
tear-down included, so several run at once. A test that stops the engine (marked
`restarts_engine`) holds the only turn: it waits for the running ones to finish, and none
starts until it is done. A file whose tests prune or watch what all share (marked `alone`)
holds the only turn from its first test's set-up to its last test's tear-down: its module
fixtures prune the build cache too, and between two of its tests another file's build would
meet a cache half pruned. The lock files are `flock`ed, so a killed run releases its turn.

Linux's flock does not queue waiters, so a steady stream of shared turns could keep the
exclusive one waiting for ever. A turnstile prevents that: every taker passes it first, and
the exclusive taker keeps it closed while it waits, so no new shared turn begins meanwhile."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

DIRECTORY = Path(tempfile.gettempdir())


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


class Turns:
    """The turn each stack test of one pytest process takes, in the order they run: `alone`
    files hold theirs across their tests, other tests take one each."""

    def __init__(self, directory: Path = DIRECTORY) -> None:
        self.directory = directory
        self.file: str | None = None  # the `alone` file holding the only turn
        self.held = ExitStack()

    @contextmanager
    def around(self, file: str, kind: str, next_file: str | None) -> Iterator[None]:
        """Hold the turn a test of `file` needs while it runs: kind "shared", "exclusive" (for
        this test), or "file" (for `file`'s tests: kept while `next_file`, the test that runs
        next, if one is known, is in `file` too)."""
        if kind != "file":
            self.release()
            with (exclusive_turn if kind == "exclusive" else shared_turn)(self.directory):
                yield
            return
        if self.file != file:
            self.release()
            self.held.enter_context(exclusive_turn(self.directory))
            self.file = file
        try:
            yield
        finally:
            if next_file != file:
                self.release()

    def release(self) -> None:
        self.held.close()
        self.file = None
