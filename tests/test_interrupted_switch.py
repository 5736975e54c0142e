"""A `git switch` that Ctrl-C stopped halfway: git writes the work tree before it moves the index
and HEAD, so the files it wrote read as local changes, each holding the target branch's content.

CI caught it in the Ctrl-C matrix (hotfix.finish interrupted just after its prepare step): the
rerun's own `git switch main` refused those changes. Now the rerun finishes that switch. A
change of the maintainer's own is never overwritten: it is refused in one line that names the
file and the fix, and the fix works."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitrepos import Project
from tests.halfdone import Templates, failed, hotfix_ready, ok, outcome, run_interrupted

pytestmark = pytest.mark.repo

FINISH = ("hotfix.finish", "--version", "1.2.1")


def stopped_switching_to_main(templates: Templates, base: Path, last: str = "written") -> Project:
    """hotfix.finish stopped after its prepare step, on hotfix/1.2.1, with main's version of
    every file that differs written into the work tree, but the last as `last` says: what a
    switch to main stopped while writing the work tree leaves. Git removes each old file, then
    creates and writes the new one: the last can be written, removed, created empty or half
    written."""
    project = templates.copy(hotfix_ready, base)
    stopped = run_interrupted(project, *FINISH, on_line="prepare: done in")
    assert "Traceback" not in stopped.stdout + stopped.stderr
    if project.git("symbolic-ref", "--short", "HEAD") != "hotfix/1.2.1":
        project.git("switch", "-q", "hotfix/1.2.1")  # the switch had finished: back before it
    paths = project.git("diff", "--name-only", "HEAD", "main").split()
    for path in paths:
        (project.work / path).write_bytes(main_version(project, path))
    content = main_version(project, paths[-1])
    if last == "removed":
        (project.work / paths[-1]).unlink()
    elif last == "created empty":
        (project.work / paths[-1]).write_bytes(b"")
    elif last == "half written":
        (project.work / paths[-1]).write_bytes(content[: len(content) // 2])
    assert project.git("status", "--porcelain"), "the half-made switch left no change"
    return project


def main_version(project: Project, path: str) -> bytes:
    return project.git("show", f"main:{path}").encode() + b"\n"


@pytest.fixture
def reference(templates: Templates, tmp_path: Path) -> dict[str, str]:
    project = templates.copy(hotfix_ready, tmp_path / "reference")
    ok(project, *FINISH)
    return outcome(project)


@pytest.mark.parametrize("last", ["written", "removed", "created empty", "half written"])
def test_a_switch_to_main_stopped_halfway_is_finished_by_the_rerun(
    templates: Templates, tmp_path: Path, reference: dict[str, str], last: str
) -> None:
    project = stopped_switching_to_main(templates, tmp_path / "stopped", last)

    ok(project, *FINISH)

    assert outcome(project) == reference


def test_a_change_of_the_maintainers_own_is_refused_naming_it_and_the_fix_works(
    templates: Templates, tmp_path: Path, reference: dict[str, str]
) -> None:
    project = stopped_switching_to_main(templates, tmp_path / "edited")
    project.write("src/auth.txt", "auth v3, the maintainer's own edit\n")
    refs = project.git("for-each-ref", "--format=%(refname) %(objectname)")

    [line] = failed(project, *FINISH)

    assert line.startswith("error: switching to main would overwrite uncommitted changes (")
    assert "src/auth.txt" in line
    assert line.endswith(
        "commit or stash them (git stash --include-untracked), then run the same command again"
    )
    assert project.git("for-each-ref", "--format=%(refname) %(objectname)") == refs
    assert (project.work / "src/auth.txt").read_text() == "auth v3, the maintainer's own edit\n"
    assert project.git("symbolic-ref", "--short", "HEAD") == "hotfix/1.2.1"

    project.git("stash", "--include-untracked")
    ok(project, *FINISH)

    assert outcome(project) == reference


def test_a_file_whose_start_differs_from_mains_is_the_maintainers_and_refused(
    templates: Templates, tmp_path: Path
) -> None:
    """Only the start of main's own content passes for a write git was stopped in: one byte
    changed in it is an edit, refused as any other."""
    project = stopped_switching_to_main(templates, tmp_path / "edited", "half written")
    path = project.git("diff", "--name-only", "HEAD", "main").split()[-1]
    written = (project.work / path).read_bytes()
    (project.work / path).write_bytes(b"#" + written[1:])

    [line] = failed(project, *FINISH)

    assert line.startswith("error: switching to main would overwrite uncommitted changes (")
    assert (project.work / path).read_bytes() == b"#" + written[1:]
    assert project.git("symbolic-ref", "--short", "HEAD") == "hotfix/1.2.1"
