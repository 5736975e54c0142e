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

    def done(self, ctx: ReleaseContext) -> bool:
        """Whether the step's effect already exists, read from reality (git, registry, GitHub)."""
        ...

    def describe(self, ctx: ReleaseContext) -> list[str]:
        """The actions it would take, one line each, for --dry-run."""
        ...

    def run(self, ctx: ReleaseContext) -> None: ...


def run_steps(ctx: ReleaseContext, steps: Sequence[Step]) -> None:
    for step in steps:
        if step.done(ctx):
            ctx.say(f"= {step.name}: already done")
            continue
        if ctx.dry_run and not step.read_only:
            for line in step.describe(ctx):
                ctx.say(f"would {line}")
            continue
        ctx.say(f"- {step.name}")
        step.run(ctx)
