"""The runner: every check before anything acts, converge step by step, verify each step done,
dry runs that describe, and one run per repository at a time. Steps here write real files."""

from __future__ import annotations

import fcntl
from dataclasses import replace
from pathlib import Path

import pytest

from release import runner
from release.errors import PreflightError, ReleaseError
from release.plan import Plan, ReleaseOptions, make_plan
from release.steps import Say, Status, Step
from tests.gitrepos import make_project

pytestmark = pytest.mark.repo


class WriteFile(Step):
    """Done when its file holds its text: the simplest step whose state is read from reality."""

    title = "write a file"

    def __init__(self, path: Path, text: str, problem: str = "", lazy: bool = False) -> None:
        self.path, self.text, self.problem, self.lazy = path, text, problem, lazy
        self.name = path.name  # type: ignore[misc]

    def check(self, plan: Plan) -> list[str]:
        return [self.problem] if self.problem else []

    def state(self, plan: Plan) -> Status:
        if self.path.exists() and self.path.read_text() == self.text:
            return Status.done()
        return Status.todo()

    def describe(self, plan: Plan) -> list[str]:
        return [f"write {self.path.name}"]

    def run(self, plan: Plan, say: Say) -> None:
        if not self.lazy:
            self.path.write_text(self.text)


@pytest.fixture
def plan(tmp_path: Path) -> Plan:
    project = make_project(tmp_path, version="1.0.0")
    return make_plan(project.work, ReleaseOptions(version="1.1.0"), frozenset())


def test_every_problem_is_reported_before_anything_acts(plan: Plan, tmp_path: Path) -> None:
    first = WriteFile(tmp_path / "a", "a")
    second = WriteFile(tmp_path / "b", "b", problem="b is forbidden: fix b")
    third = WriteFile(tmp_path / "c", "c", problem="c is forbidden: fix c")
    with pytest.raises(PreflightError) as refused:
        runner.run(plan, [first, second, third], lambda line: None, "test")
    assert refused.value.problems == ["b is forbidden: fix b", "c is forbidden: fix c"]
    assert not (tmp_path / "a").exists()


def test_done_steps_are_left_alone_and_the_rest_converge(plan: Plan, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    said: list[str] = []
    runner.run(
        plan, [WriteFile(tmp_path / "a", "a"), WriteFile(tmp_path / "b", "b")], said.append, "t"
    )
    assert said[0] == "t"
    assert said[1] == "= a: already done"
    assert said[2] == "- b: write a file"
    assert said[3].startswith("  b: done in ")
    assert (tmp_path / "b").read_text() == "b"


def test_a_step_that_runs_but_is_not_done_is_an_error(plan: Plan, tmp_path: Path) -> None:
    with pytest.raises(ReleaseError) as failed:
        runner.run(plan, [WriteFile(tmp_path / "a", "a", lazy=True)], lambda line: None, "t")
    assert str(failed.value).startswith("a ran but is still not done (no detail): run the same")


def test_a_dry_run_describes_and_changes_nothing(plan: Plan, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    said: list[str] = []
    steps = [WriteFile(tmp_path / "b", "b"), WriteFile(tmp_path / "a", "a")]
    runner.run(replace(plan, dry_run=True), steps, said.append, "t")
    # Once a step would act, the later ones cannot be known done: they are described too.
    assert said == [
        "t (dry run: nothing changes)",
        "- b: write a file",
        "    would write b",
        "- a: write a file",
        "    would write a",
    ]
    assert not (tmp_path / "b").exists()


def test_a_second_run_in_the_same_repository_is_refused(plan: Plan, tmp_path: Path) -> None:
    lock = plan.repo.git_dir / "barycenter-release.lock"
    with lock.open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("pid 4242")
        held.flush()
        with pytest.raises(ReleaseError) as refused:
            runner.run(plan, [WriteFile(tmp_path / "a", "a")], lambda line: None, "t")
    assert str(refused.value) == (
        "another release run (pid 4242) is working in this repository: "
        "wait for it to finish, then run the same command again"
    )
    assert not (tmp_path / "a").exists()
