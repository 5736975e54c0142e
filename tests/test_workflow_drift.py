"""release.yml and the pipeline cannot drift: the workflow's jobs, in `needs:` order, run exactly
the pipeline's tagged stages (release.pipeline.TAGGED), each through the invoke tasks whose
slices (release.pipeline.SLICES) name them, and the last of them is verify. A job removed, or
two jobs swapped, and the workflow no longer does what the pipeline says: the test fails."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from release.pipeline import SLICES, TAGGED
from tests.workflow_run import RELEASE_YML, as_list, job_order, load

INVOKE = re.compile(r"^\s*invoke\s+(release(?:\.[\w.]+)?)(?=\s|$)", re.MULTILINE)


def job_stages(job: dict[str, Any]) -> tuple[str, ...]:
    """The pipeline stages a job runs: its invoke tasks' slices, in step order."""
    stages: list[str] = []
    for step in job.get("steps", []):
        for task in INVOKE.findall(str(step.get("run", ""))):
            stages += SLICES[task]
    return tuple(stages)


def ancestors(jobs: dict[str, Any], name: str) -> set[str]:
    found: set[str] = set()
    for need in as_list(jobs[name].get("needs", [])):
        found |= {need, *ancestors(jobs, need)}
    return found


def drift(workflow: dict[str, Any]) -> list[str]:
    """How the workflow's jobs differ from the pipeline's tagged stages; empty when they agree.

    A stage a later job runs again (checksums, where both archives are) converges to "done" and
    counts once, where it first runs."""
    jobs = workflow["jobs"]
    order = job_order(jobs)
    running = [(name, job_stages(jobs[name])) for name in order if job_stages(jobs[name])]
    problems = []
    for earlier, (name, _) in enumerate(running):
        for later, _ in running[earlier + 1 :]:
            if name not in ancestors(jobs, later):
                problems.append(f"{later} runs after {name} but does not need it")
    seen: list[str] = []
    for _, stages in running:
        seen += [stage for stage in stages if stage not in seen]
    if tuple(seen) != TAGGED:
        problems.append(f"the jobs run {', '.join(seen)}; the pipeline is {', '.join(TAGGED)}")
    last = order[-1]
    if job_stages(jobs[last])[-1:] != ("verify",):
        problems.append(f"the last job, {last}, does not run verify")
    return problems


def workflow() -> dict[str, Any]:
    return load(RELEASE_YML.read_text())


def without(document: dict[str, Any], removed: str) -> dict[str, Any]:
    """The job `removed` taken out; those that needed it need what it needed."""
    changed = copy.deepcopy(document)
    gone = changed["jobs"].pop(removed)
    for job in changed["jobs"].values():
        needs = as_list(job.get("needs", []))
        if removed in needs:
            kept = [n for n in needs if n != removed]
            job["needs"] = kept + [n for n in as_list(gone.get("needs", [])) if n not in kept]
    return changed


def swapped(document: dict[str, Any], earlier: str, later: str) -> dict[str, Any]:
    """`later` made to run before `earlier`, which it needed: their places exchanged."""
    changed = copy.deepcopy(document)
    jobs = changed["jobs"]
    earlier_needs = as_list(jobs[earlier]["needs"])
    later_needs = [n for n in as_list(jobs[later]["needs"]) if n != earlier]
    jobs[later]["needs"] = earlier_needs
    jobs[earlier]["needs"] = [*dict.fromkeys([*later_needs, later])]
    for name, job in jobs.items():
        needs = as_list(job.get("needs", []))
        if name not in (earlier, later) and later in needs and earlier not in needs:
            job["needs"] = [*needs, earlier]
    return changed


def test_release_yml_runs_the_pipelines_tagged_stages_in_order_ending_with_verify() -> None:
    document = workflow()
    assert drift(document) == []
    assert job_order(document["jobs"]) == [
        "version",
        "build",
        "publish",
        "attest",
        "github",
        "verify",
    ]


@pytest.mark.parametrize("job", ["build", "publish", "attest", "github", "verify"])
def test_a_removed_job_is_drift(job: str) -> None:
    problems = drift(without(workflow(), job))
    assert problems, f"removing {job} went unnoticed"
    print(problems)


def test_a_removed_verify_job_is_named() -> None:
    assert drift(without(workflow(), "verify")) == [
        "the jobs run build, binaries, checksums, publish, attest, github; "
        "the pipeline is build, binaries, checksums, publish, attest, github, verify",
        "the last job, github, does not run verify",
    ]


def test_two_jobs_swapped_is_drift() -> None:
    assert drift(swapped(workflow(), "publish", "attest")) == [
        "the jobs run build, binaries, checksums, attest, publish, github, verify; "
        "the pipeline is build, binaries, checksums, publish, attest, github, verify"
    ]


def test_a_job_no_longer_ordered_by_needs_is_drift() -> None:
    document = workflow()
    document["jobs"]["verify"]["needs"] = ["version"]
    problems = drift(document)
    assert "verify runs after github but does not need it" in problems


def test_a_job_running_another_task_is_drift() -> None:
    document = workflow()
    for step in document["jobs"]["attest"]["steps"]:
        if "release.attest" in str(step.get("run", "")):
            step["run"] = 'echo "attested elsewhere"'
    assert drift(document) == [
        "the jobs run build, binaries, checksums, publish, github, verify; "
        "the pipeline is build, binaries, checksums, publish, attest, github, verify"
    ]
