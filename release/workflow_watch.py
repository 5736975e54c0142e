"""`invoke release --version X --ci`: after the tag push, follow the tag-triggered workflow run
through the Actions API (what `gh run watch` shows): its URL, each job's state as it changes,
and the run's conclusion as the exit status."""

from __future__ import annotations

import time
from collections.abc import Callable

from release.errors import ReleaseError
from release.github import GitHubClient
from release.plan import Plan, tagged_commit
from release.steps import Say

WORKFLOW = "release.yml"


def follow(
    plan: Plan,
    say: Say,
    client: GitHubClient,
    poll: float = 5.0,
    appear_within: float = 600.0,
    finish_within: float = 7200.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    commit = tagged_commit(plan)
    if commit is None:
        raise ReleaseError(f"tag {plan.tag} does not exist", "push it first: invoke release.tag")
    started = clock()
    say(f"waiting for the {WORKFLOW} run of {plan.tag} ({commit[:12]})")
    while True:
        runs = client.workflow_runs(WORKFLOW, head_sha=commit)
        if runs:
            run = runs[0]
            break
        if clock() - started > appear_within:
            raise ReleaseError(
                f"no {WORKFLOW} run started for {plan.tag} within {appear_within:.0f} s",
                "check the workflow's tag filter and that Actions is enabled",
            )
        time.sleep(poll)
    say(f"run {run.id}: {run.html_url}")
    seen: dict[str, str] = {}
    while True:
        run = client.workflow_run(run.id)
        for job in client.run_jobs(run.id):
            state = job.status + (f" ({job.conclusion})" if job.conclusion else "")
            if seen.get(job.name) != state:
                seen[job.name] = state
                say(f"  {job.name}: {state}")
        if run.status == "completed":
            break
        if clock() - started > finish_within:
            raise ReleaseError(
                f"run {run.id} is still {run.status} after {finish_within:.0f} s",
                f"follow it at {run.html_url}",
            )
        time.sleep(poll)
    if run.conclusion != "success":
        raise ReleaseError(
            f"the release workflow run of {plan.tag} ended {run.conclusion}: {run.html_url}",
            f"read its logs, rerun the failed jobs, or finish here: invoke release --version "
            f"{plan.version}",
        )
    say(f"run {run.id} succeeded")
