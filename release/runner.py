"""Run a slice of the pipeline: every check first, then each step that is not done, each
verified done afterwards (pyinvoke's `_converge`). One run per repository at a time."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from release.errors import InterruptionError, PreflightError, ReleaseError, interrupted_status
from release.plan import Plan, read_facts, with_image_tags_of
from release.steps import Say, State, Status, Step


@contextmanager
def exclusive(plan: Plan) -> Iterator[None]:
    """One release run per repository: a second one is refused at once, changing nothing."""
    lock_path = plan.repo.git_dir / "barycenter-release.lock"
    try:
        handle = lock_path.open("a+")
    except OSError:
        yield  # a read-only .git: nothing can be written there, nor anywhere else by git
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ReleaseError(
                f"another release run ({holder}) is working in this repository",
                "wait for it to finish, then run the same command again",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def problems_of(plan: Plan, steps: Sequence[Step]) -> list[str]:
    """Every problem of the slice: each step's own check, then what it needs from an earlier
    stage that no earlier step of this slice makes (read from reality by the need)."""
    # A vX that is not X's release would make every step trusting it "done": refused first.
    problems: list[str] = plan.tag_problems if any(s.trusts_tag for s in steps) else []
    made: set[str] = set()
    for step in steps:
        found = step.check(plan)
        for need in step.needs():
            if need.fact not in made:
                found += need.problems(plan)
        for problem in found:
            if problem not in problems:
                problems.append(problem)
        made |= step.makes
    return problems


class Waiting(Exception):  # noqa: N818 - a state, not a failure
    """A step waits for someone else (a reviewer's merge): the run ends there, successfully."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.detail)
        self.status = status


def run(plan: Plan, steps: Sequence[Step], say: Say, heading: str) -> Status | None:
    """Run the slice; the status of the step it stopped at when one waits for someone else
    (its last line then says what for), else None."""
    say(heading + (" (dry run: nothing changes)" if plan.dry_run else ""))
    if plan.dry_run:
        problems = problems_of(plan, steps)
        if problems:
            raise PreflightError(problems)
        rehearse(plan, steps, say)
        return None
    with exclusive(plan):
        if any(step.uses_registry for step in steps):
            from release import registry

            registry.login_for(plan.image, plan.config)
        problems = problems_of(plan, steps)
        if problems:
            raise PreflightError(problems)
        try:
            for step in steps:
                plan = converge(plan, step, say)
        except Waiting as waiting:
            say(f"waiting for {waiting.status.detail}")
            return waiting.status
    return None


def recheck_image_tags(plan: Plan, say: Say) -> Plan:
    """The image tags decided again over the tags as they are now: a release of a higher
    version by another clone since planning takes `latest` (and the floating tags) from X.
    Said in one line when it changes the plan, so the run shows what it acts on."""
    replanned, moved = with_image_tags_of(plan, read_facts(plan.repo, plan.remote))
    if moved:
        say(f"  re-planned: {moved}")
    return replanned


def rehearse(plan: Plan, steps: Sequence[Step], say: Say) -> None:
    """--dry-run: what each step would do. Once one would act, the later steps' states are
    read from a world without its effect, so they are shown as what they would do."""
    would_act = False
    for step in steps:
        status = step.state(plan)
        if status.state is State.SKIP:
            say(f"~ {step.name}: does not apply ({status.detail})")
        elif status.state is State.WAIT and not would_act:
            # The later steps act once someone else has: shown as what they would then do.
            would_act = True
            say(f"… {step.name}: waiting for {status.detail} ({status.hint})")
        elif status.state is State.DONE and not would_act:
            say(f"= {step.name}: done ({status.detail})" if status.detail else f"= {step.name}")
        else:
            would_act = True
            say(f"- {step.name}: {step.title}")
            for line in step.describe(plan):
                say(f"    would {line}")


def converge(plan: Plan, step: Step, say: Say) -> Plan:
    """Run `step` unless it is done; the plan the later steps work from (its image tags
    decided again when this step reads them: as late as possible, just before it acts)."""
    if step.reads_image_tags:
        plan = recheck_image_tags(plan, say)
    status = step.state(plan)
    if status.state is State.SKIP:
        say(f"~ {step.name}: does not apply ({status.detail})")
        return plan
    if status.state is State.DONE:
        say(f"= {step.name}: already done" + (f" ({status.detail})" if status.detail else ""))
        return plan
    if status.state is State.WAIT:
        say(f"… {step.name}: waiting for {status.detail} ({status.hint})")
        raise Waiting(status)
    say(f"- {step.name}: {step.title}")
    if step.reads_image_tags:
        plan = recheck_image_tags(plan, say)
    started = time.monotonic()
    try:
        step.run(plan, say)
    except KeyboardInterrupt as interrupt:
        raise InterruptionError(
            f"interrupted during {step.name}",
            "run the same command again: it continues where it stopped",
            interrupted_status(interrupt),
        ) from None
    after: Status = step.state(plan)
    if after.state is not State.DONE:
        raise ReleaseError(
            f"{step.name} ran but is still not done ({after.detail or 'no detail'})",
            "run the same command again; if it says the same, report it with this line",
        )
    say(f"  {step.name}: done in {time.monotonic() - started:.1f} s")
    return plan
