"""Errors the release system reports to a maintainer as one line naming the fix."""

import sys
from collections.abc import Callable


class ReleaseError(Exception):
    """A refusal or failure whose message is one line: what is wrong and how to fix it."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}: {fix}" if fix else problem)


class PreflightError(ReleaseError):
    """Every problem a check found, one line each, so a maintainer fixes them in one pass."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        # Each line is "what is wrong: how to fix it", like every ReleaseError.
        self.items = [tuple(line.split(": ", 1)) for line in problems]
        first = problems[0].split(": ", 1) if problems else ["no problem"]
        self.problem = first[0]
        self.fix = first[1] if len(first) > 1 else None
        Exception.__init__(self, "\n".join(problems))


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI runner cancelling the job, systemd, kill): stopped as Ctrl-C stops a run."""


class InterruptionError(ReleaseError):
    """A run stopped by Ctrl-C or SIGTERM; `code` is the shell's status for that signal."""

    def __init__(self, problem: str, fix: str, code: int) -> None:
        super().__init__(problem, fix)
        self.code = code


def interrupted_status(interrupt: KeyboardInterrupt) -> int:
    return 143 if isinstance(interrupt, Terminated) else 130


def exit_status(action: Callable[[], object]) -> int:
    """Run a command-line action: 0, or 1 with each line of a ReleaseError on stderr."""
    try:
        action()
    except ReleaseError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 1
    return 0
