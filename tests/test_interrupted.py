"""Ctrl-C anywhere in a git-flow task, then the same command again: the rerun reaches the end
state of an uninterrupted run (issue 10, case 2's "Ctrl-C during the commit", and the SIGINT
matrix of its Done-when).

Each task runs in its own process group, as in a terminal, and SIGINT goes to the whole group
(the task and the git it runs), as Ctrl-C does. Two kinds of interruption points:

- step boundaries: when the task prints its heading, `- STEP:` (a step starts) or
  `STEP: done in` (a step ended), the test sends SIGINT;
- inside git writes: a hook installed in the clone and in the bare origin sends SIGINT from
  within the git command while it writes: pre-commit, prepare-commit-msg, commit-msg,
  post-commit (the release commit, merge commits), pre-merge-commit (a merge staged, MERGE_HEAD
  not yet written), post-checkout (git switch), post-merge, reference-transaction in its
  `prepared` and `committed` states (every ref update: commits, tags, branches, deletions,
  remote-tracking refs), pre-push, and on the origin pre-receive, reference-transaction and
  post-receive (the push is being received, or has landed).

The matrix, task by task: every boundary line and every (hook, n-th firing) of an
uninterrupted run of release.prepare (from v1.0.0 plus a feature), release.tag (after
release.prepare), hotfix.start with --push, and hotfix.finish (fix committed, main and develop
on origin). Each task's steps are read from release.pipeline's SLICES;
`test_the_matrix_is_complete` checks that the points listed here are exactly the ones an
uninterrupted run passes, and `test_the_scenarios_cover_every_git_step_of_the_pipeline` that
every step of the pipeline that writes to git is in one of these tasks, so a new git write
cannot go untested.

After the interruption the task must have stopped with `error:` lines only (or finished, when
the signal came after its last write), and the rerun must succeed and leave `outcome` (every
ref's trees and subjects here and on the origin, tag messages, HEAD, status, files) equal to
the uninterrupted run's.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from release.pipeline import PIPELINE, SLICES, TAGGED, steps_of
from tests.gitrepos import Project
from tests.halfdone import (
    Templates,
    hotfix_line,
    hotfix_ready,
    ok,
    outcome,
    released,
    run_interrupted,
)

pytestmark = pytest.mark.repo

WORK_HOOKS = (
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "pre-merge-commit",
    "post-commit",
    "post-checkout",
    "post-merge",
    "reference-transaction",
    "pre-push",
)
ORIGIN_HOOKS = ("pre-receive", "reference-transaction", "post-receive")

# `-S`: no site-packages to set up (the hook needs only the standard library), a third of
# the start-up of each of the thousands of hook runs in the matrix.
HOOK = """#!{python} -S
import os, signal, sys, time
event = {event!r}
if event.endswith("reference-transaction"):
    sys.stdin.read()
    if sys.argv[1] == "aborted":
        sys.exit(0)
    event += ":" + sys.argv[1]
with open({log!r}, "a") as log:
    log.write(event + "\\n")
try:
    with open({trigger!r}) as f:
        wanted, nth = f.read().split()
except FileNotFoundError:
    sys.exit(0)
if wanted == event:
    with open({log!r}) as log:
        seen = sum(1 for line in log if line.strip() == event)
    if seen == int(nth):
        os.remove({trigger!r})
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.killpg(os.getpgid(0), signal.SIGINT)
        time.sleep(1)
"""


def install_hooks(project: Project, base: Path) -> tuple[Path, Path]:
    log, trigger = base / "hooks.log", base / "trigger"
    for where, directory, names in (
        ("work", project.work / ".git" / "hooks", WORK_HOOKS),
        ("origin", project.origin / "hooks", ORIGIN_HOOKS),
    ):
        directory.mkdir(exist_ok=True)
        for name in names:
            path = directory / name
            path.write_text(
                HOOK.format(
                    python=sys.executable,
                    event=f"{where}:{name}",
                    log=str(log),
                    trigger=str(trigger),
                )
            )
            path.chmod(0o755)
    return log, trigger


def prepared(base: Path) -> Project:
    project = released(base)
    ok(project, "release.prepare", "--version", "1.1.0")
    return project


SCENARIOS: dict[str, tuple[Callable[[Path], Project], tuple[str, ...]]] = {
    "release.prepare": (released, ("release.prepare", "--version", "1.1.0")),
    "release.tag": (prepared, ("release.tag", "--version", "1.1.0")),
    "hotfix.start": (hotfix_line, ("hotfix", "1.2.1", "--push")),
    "hotfix.finish": (hotfix_ready, ("hotfix.finish", "--version", "1.2.1")),
}

# Each task's steps in the order it runs them, from the pipeline itself: a step added to a
# task's slice is interrupted at its boundaries without a change here.
# The stages of a release through a pull request (release-via = "pull-request") do not apply
# to these push-mode tasks: tests/test_release_pull_request.py interrupts them.
THROUGH_PULL_REQUEST = {
    "release-branch",
    "pull-request",
    "merged",
    "develop-pull-request",
    "develop-merged",
}
STEPS = {
    task: tuple(s.name for s in steps_of(SLICES[task]) if s.name not in THROUGH_PULL_REQUEST)
    for task in SCENARIOS
}

# (hook event, how many times an uninterrupted run fires it), task by task.
HOOK_POINTS: dict[str, dict[str, int]] = {
    "release.prepare": {
        "work:commit-msg": 1,
        "work:post-commit": 1,
        "work:pre-commit": 1,
        "work:prepare-commit-msg": 1,
        "work:reference-transaction:committed": 1,
        "work:reference-transaction:prepared": 1,
    },
    "release.tag": {
        "origin:post-receive": 1,
        "origin:pre-receive": 1,
        "origin:reference-transaction:committed": 1,
        "origin:reference-transaction:prepared": 1,
        "work:pre-push": 1,
        "work:reference-transaction:committed": 2,
        "work:reference-transaction:prepared": 2,
    },
    "hotfix.start": {
        "origin:post-receive": 1,
        "origin:pre-receive": 1,
        "origin:reference-transaction:committed": 1,
        "origin:reference-transaction:prepared": 1,
        "work:post-checkout": 1,
        "work:pre-push": 1,
        "work:reference-transaction:committed": 2,
        "work:reference-transaction:prepared": 2,
    },
    "hotfix.finish": {
        "origin:post-receive": 2,
        "origin:pre-receive": 2,
        "origin:reference-transaction:committed": 2,
        "origin:reference-transaction:prepared": 2,
        "work:commit-msg": 3,
        "work:post-checkout": 5,
        "work:post-commit": 2,
        "work:post-merge": 1,
        "work:pre-commit": 2,
        "work:pre-merge-commit": 1,
        "work:prepare-commit-msg": 3,
        "work:pre-push": 2,
        "work:reference-transaction:committed": 10,
        "work:reference-transaction:prepared": 10,
    },
}


def test_the_matrix_has_its_points() -> None:
    """100 points: 28 step boundaries and 72 (hook, n-th firing) inside git's own hooks, 14 kinds
    of hook event. The summary at the end of a run says how many converged
    (tests/conftest.py)."""
    hooks = [point for _, kind, point in MATRIX if kind == "hook"]
    assert (len(MATRIX), len(hooks)) == (100, 72)
    assert len({point.split()[0] for point in hooks}) == 14


def test_the_scenarios_cover_every_git_step_of_the_pipeline() -> None:
    """What this file keeps beside the pipeline agrees with it: a scenario and hook counts for
    each task, every task a slice of the pipeline, and every step that writes to git (all but
    what the tag-triggered workflow runs) in some task's slice."""
    assert set(HOOK_POINTS) == set(SCENARIOS)
    assert set(SCENARIOS) <= set(SLICES), set(SCENARIOS) - set(SLICES)
    git_steps = {step.name for step in PIPELINE} - set(TAGGED) - THROUGH_PULL_REQUEST
    covered = {name for task in SCENARIOS for name in STEPS[task]}
    assert covered == git_steps, (git_steps - covered, covered - git_steps)


def boundaries(task: str) -> list[str]:
    heading = {"hotfix.start": "hotfix.start 1.2.1"}.get(task, f"{task} ")
    lines = [heading]
    for step in STEPS[task]:
        lines += [f"- {step}:", f"  {step}: done in"]
    return lines


MATRIX = [(task, "line", marker) for task in SCENARIOS for marker in boundaries(task)] + [
    (task, "hook", f"{event} {nth}")
    for task, points in HOOK_POINTS.items()
    for event, count in points.items()
    for nth in range(1, count + 1)
]


class References:
    """Each task's uninterrupted run, once: its outcome and the hooks it fired."""

    def __init__(self, templates: Templates, root: Path) -> None:
        self.templates = templates
        self.root = root
        self.runs: dict[str, tuple[dict[str, str], Counter[str], str]] = {}

    def get(self, task: str) -> tuple[dict[str, str], Counter[str], str]:
        if task not in self.runs:
            kind, args = SCENARIOS[task]
            base = self.root / task
            base.mkdir()
            project = self.templates.copy(kind, base)
            log, _ = install_hooks(project, base)
            out = ok(project, *args)
            fired = Counter(log.read_text().split()) if log.exists() else Counter()
            self.runs[task] = (outcome(project), fired, out)
        return self.runs[task]


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> References:
    templates = Templates(tmp_path_factory.mktemp("templates"))
    return References(templates, tmp_path_factory.mktemp("references"))


@pytest.mark.parametrize("task", list(SCENARIOS))
def test_the_matrix_is_complete(references: References, task: str) -> None:
    _, fired, out = references.get(task)
    assert dict(fired) == HOOK_POINTS[task]
    for marker in boundaries(task):
        assert any(line.startswith(marker) for line in out.splitlines()), (marker, out)


@pytest.mark.parametrize(
    ("task", "kind", "point"), MATRIX, ids=[f"{t}|{k}|{p.strip()}" for t, k, p in MATRIX]
)
def test_interrupted_then_rerun_converges(
    references: References, tmp_path: Path, task: str, kind: str, point: str
) -> None:
    expected, _, _ = references.get(task)
    make, args = SCENARIOS[task]
    project = references.templates.copy(make, tmp_path)
    _, trigger = install_hooks(project, tmp_path)
    if kind == "hook":
        trigger.write_text(point)
    stopped = run_interrupted(project, *args, on_line=point if kind == "line" else None)

    assert "Traceback" not in stopped.stdout + stopped.stderr
    # Never killed by the signal itself: once the run has ended, while Python exits, a
    # Ctrl-C is ignored (it has nothing left to stop).
    if stopped.returncode != 0:
        lines = stopped.stderr.strip().splitlines()
        assert stopped.returncode in (1, 130), stopped.stderr
        assert lines and all(line.startswith("error: ") for line in lines), stopped.stderr
        assert any("interrupted" in line for line in lines), stopped.stderr
    if kind == "hook":
        assert not trigger.exists(), f"{point} never fired"
    trigger.unlink(missing_ok=True)

    again = project.invoke(*args)

    assert again.returncode == 0, again.stdout + again.stderr
    assert outcome(project) == expected
