"""What tasks.py needs to turn the release system's outcomes into exit codes and one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from invoke.exceptions import Exit

from release.errors import NotYetAvailableError, ReleaseError

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent

# Tasks whose capability has not landed yet, with the issue that brings each.
PENDING = {
    "release": "the release pipeline",
    "release.github": "the GitHub release",
    "release.attest": "the signed build-provenance attestation",
    "release.verify": "the post-release checklist",
}


def pending(task: str) -> None:
    raise NotYetAvailableError(task, PENDING[task])


def run(action: Callable[[], T]) -> T:
    """Run a task body; a ReleaseError becomes one line on stderr and exit status 1."""
    try:
        return action()
    except ReleaseError as error:
        lines = str(error).splitlines() or ["failed"]
        raise Exit("\n".join(f"error: {line}" for line in lines), code=1) from None
