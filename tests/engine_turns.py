"""Turns on the one Docker engine that every stack test shares, across pytest-xdist workers
and across pytest runs on the same machine.

Most stack tests only use the engine: they hold a shared turn while they run, set-up and
tear-down included, so several run at once. A test that stops the engine (marked
`restarts_engine`) holds the only turn: it waits for the running ones to finish, and none
starts until it is done. The lock files are `flock`ed, so a killed run releases its turn.

Linux's flock does not queue waiters, so a steady stream of shared turns could keep the
exclusive one waiting for ever. A turnstile prevents that: every taker passes it first, and
the exclusive taker keeps it closed while it waits, so no new shared turn begins meanwhile."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
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
