"""The dry run is the plan: what `--dry-run` says each step would do is what the real run, from
the same repository, then does; and after it, a dry run finds nothing left to do.

Real repositories with a bare origin and develop; the runner's own lines are compared: `- step`
(acts), `= step` (done), `~ step` (does not apply), and each acting step's `step: done in`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from release import pipeline, runner
from release.options import HotfixOptions, ReleaseOptions
from release.plan import make_plan
from tests.gitrepos import Project, make_project
from tests.test_hotfix_flow import ok
from tests.test_hotfix_flow import setup as hotfix_project

pytestmark = pytest.mark.repo


def run_slice(
    project: Project, stages: tuple[str, ...], options: ReleaseOptions | HotfixOptions
) -> list[str]:
    lines: list[str] = []
    plan = make_plan(project.work, options, frozenset(stages))
    runner.run(plan, pipeline.steps_of(stages), lines.append, "heading")
    return lines


def step_lines(lines: list[str]) -> list[str]:
    """`- name`, `= name`, `~ name`: what the runner decided for each step, in order."""
    return [line.split(":")[0] for line in lines if line[:2] in ("- ", "= ", "~ ")]


def finished(lines: list[str]) -> list[str]:
    """The steps the runner reports done after running them."""
    return [
        "- " + line.strip().split(":")[0]
        for line in lines
        if line.startswith("  ") and ": done in " in line
    ]


def assert_dry_run_is_what_ran(
    project: Project,
    stages: tuple[str, ...],
    dry: ReleaseOptions | HotfixOptions,
    real: ReleaseOptions | HotfixOptions,
) -> list[str]:
    before = project.state()
    planned = run_slice(project, stages, dry)
    assert project.state() == before
    performed = run_slice(project, stages, real)

    assert step_lines(planned) == step_lines(performed), "\n".join([*planned, "---", *performed])
    acted = [line for line in step_lines(performed) if line.startswith("- ")]
    assert acted == finished(performed)
    after = step_lines(run_slice(project, stages, dry))
    assert not [line for line in after if line.startswith("- ")], after
    return acted


def test_a_release_does_what_its_dry_run_said(tmp_path: Path) -> None:
    project = make_project(tmp_path, version="0.1.0")
    ok(project, "release.prepare", "--version", "1.0.0", "--allow-empty")
    ok(project, "release.tag", "--version", "1.0.0")
    project.commit("feat: add device code flow (#45)")
    project.push("main")

    acted = assert_dry_run_is_what_ran(
        project,
        pipeline.UP_TO_THE_TAG,
        ReleaseOptions(version="1.1.0", dry_run=True),
        ReleaseOptions(version="1.1.0"),
    )

    assert acted == ["- prepare", "- tag", "- push", "- merge-develop", "- push-develop"]


def test_a_hotfix_does_what_its_dry_run_said(tmp_path: Path) -> None:
    project = hotfix_project(tmp_path)
    ok(project, "hotfix", "1.2.1")
    project.commit("fix: refuse reused authorization codes (#43)", "src/auth.txt", "auth v2\n")

    acted = assert_dry_run_is_what_ran(
        project,
        pipeline.HOTFIX_FINISH,
        HotfixOptions(version="1.2.1", dry_run=True),
        HotfixOptions(version="1.2.1"),
    )

    assert acted == [
        "- prepare",
        "- merge-main",
        "- tag",
        "- push",
        "- merge-develop",
        "- push-develop",
        "- hotfix-branch-delete",
    ]
