"""hotfix.finish's merges and git's own pre-merge-commit hook (issue 19, part 2).

A Ctrl-C while git runs pre-merge-commit kills git after it staged the merge and before it wrote
MERGE_HEAD; a hook that refuses leaves MERGE_HEAD and the staged merge. Either way the rerun
must reach the uninterrupted outcome, and a refusal must carry the hook's own words (not "There
is no merge to abort") and name a fix that works; the test runs it. The Ctrl-C matrix of
test_interrupted.py has the same hook at every merge; here the run is also killed outright
(SIGKILL: no handler runs), and the hook is slow, as in the issue.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from tests.gitrepos import Project
from tests.halfdone import (
    Templates,
    failed,
    hook,
    hotfix_ready,
    ok,
    outcome,
    remove_hook,
    run_interrupted,
)

pytestmark = pytest.mark.repo

FINISH = ("hotfix.finish", "--version", "1.2.1")


@pytest.fixture(scope="module")
def expected(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """hotfix.finish run once with no hook in the way, on the same template as each test."""
    project = templates.copy(hotfix_ready, tmp_path_factory.mktemp("reference"))
    ok(project, *FINISH)
    return outcome(project)


@pytest.fixture
def project(templates: Templates, tmp_path: Path) -> Project:
    return templates.copy(hotfix_ready, tmp_path)


def killing_hook(signal_number: int) -> str:
    """A slow pre-merge-commit hook that, the first time, signals the task's process group."""
    return (
        f"exec {sys.executable} -c 'import os, signal, time\n"
        'flag = os.path.join(".git", "killed-once")\n'
        "if not os.path.exists(flag):\n"
        '    open(flag, "w").close()\n'
        "    time.sleep(1)\n"
        f"    os.killpg(os.getpgid(0), {signal_number})\n"
        "    time.sleep(5)\n"
        "'"
    )


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_stopped_inside_pre_merge_commit_then_rerun_converges(
    project: Project, expected: dict[str, str], sent: signal.Signals
) -> None:
    hook(project.work, "pre-merge-commit", killing_hook(int(sent)))

    stopped = run_interrupted(project, *FINISH)

    assert stopped.returncode in (130, -signal.SIGKILL), stopped.stdout + stopped.stderr
    if sent == signal.SIGINT:
        assert stopped.stderr.splitlines() == [
            "error: interrupted during merge-main: run the same command again: it continues "
            "where it stopped"
        ]
    again = project.invoke(*FINISH)  # the slow hook is still there; it fires only once

    assert again.returncode == 0, again.stdout + again.stderr
    assert outcome(project) == expected


def test_a_refusing_pre_merge_commit_hook_is_named_and_the_fix_works(
    project: Project, expected: dict[str, str]
) -> None:
    hook(project.work, "pre-merge-commit", "echo 'no merges on Fridays' >&2; exit 1")
    main_before = project.git("rev-parse", "main")

    lines = failed(project, *FINISH)

    assert lines == [
        "error: the pre-merge-commit hook refused merging hotfix/1.2.1 into main (no merges on "
        "Fridays); main is as it was: fix that, then run invoke hotfix.finish --version 1.2.1 "
        "again"
    ]
    assert project.git("rev-parse", "main") == main_before
    assert project.git("status", "--porcelain", "--untracked-files=all") == ""
    assert not (project.work / ".git" / "MERGE_HEAD").exists()
    remove_hook(project.work, "pre-merge-commit")  # the fix: the hook lets it through
    ok(project, *FINISH)
    assert outcome(project) == expected
