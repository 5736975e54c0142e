"""Steps of the release. Each knows whether its effect already exists, what it would do, and
how to do it; `run_steps` converges, so rerunning after a failure redoes only what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from release.context import ReleaseContext


class Step(Protocol):
    name: str
    # Read-only steps (the preflights) also run in a dry run, so it reports every problem.
    read_only: bool

    def skip(self, ctx: ReleaseContext) -> str | None:
        """Why the step does not apply to this release (e.g. no develop branch), or None."""
        ...

    def done(self, ctx: ReleaseContext) -> bool:
        """Whether the step's effect already exists, read from reality (git, registry, GitHub)."""
        ...

    def describe(self, ctx: ReleaseContext) -> list[str]:
        """The actions it would take, one line each, for --dry-run."""
        ...

    def run(self, ctx: ReleaseContext) -> None: ...


class Check:
    """A read-only step: it never counts as done, and it runs in dry runs too."""

    name = "preflight"
    read_only = True

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None

    def done(self, ctx: ReleaseContext) -> bool:
        return False

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return []


class Action:
    """A step with effects; subclasses say what done means, what they would do, and do it."""

    name = ""
    read_only = False

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None


def run_steps(ctx: ReleaseContext, steps: Sequence[Step]) -> None:
    would_act = False
    for step in steps:
        reason = step.skip(ctx)
        if reason is not None:
            ctx.say(f"~ {step.name}: skipped, {reason}")
            continue
        # In a dry run nothing happens, so once a step would act, the later steps' checks read
        # a world without its effect: "done" there would be a guess, and the plan is shown.
        if step.done(ctx) and not would_act:
            ctx.say(f"= {step.name}: already done")
            continue
        if ctx.dry_run and not step.read_only:
            would_act = True
            for line in step.describe(ctx):
                ctx.say(f"would {line}")
            continue
        ctx.say(f"- {step.name}")
        step.run(ctx)
