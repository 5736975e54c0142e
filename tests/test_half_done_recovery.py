"""Git-flow failures from issue 10 that happen mid-run, on real repositories with bare remotes:
each leaves nothing changed (asserted byte for byte with Project.state()) or is resumed by a
rerun that reaches the same end state as an uninterrupted run (asserted with `outcome`, which
compares every ref's trees and subjects here and on the remote, HEAD, the status and files).

Issue 10 cases covered here: 1, 2 (a failing pre-commit hook, commit.gpgsign without a key),
3, 5, 10, 11 (two prepare runs at once), 12, 13. Ctrl-C is tests/test_interrupted.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.gitrepos import REPO_ROOT, Project, git, refused
from tests.halfdone import (
    Templates,
    failed,
    fixed_commit,
    hook,
    hotfix_line,
    hotfix_ready,
    ok,
    outcome,
    released,
    remove_hook,
)

pytestmark = pytest.mark.repo


@pytest.fixture
def project(templates: Templates, tmp_path: Path) -> Project:
    return templates.copy(released, tmp_path)


def reference(templates: Templates, base: Path, kind: object, *runs: tuple[str, ...]) -> Project:
    """The same project, run without trouble: what every recovery must reach."""
    base.mkdir()
    other = templates.copy(kind, base)  # type: ignore[arg-type]
    for args in runs:
        ok(other, *args)
    return other


def remote_outcome(project: Project) -> dict[str, str]:
    return {k: v for k, v in outcome(project).items() if k.startswith("remote ")}


# 2: a failing pre-commit hook, and commit.gpgsign with no key: restored, then a rerun.
@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("hook", "lint: Cargo.toml has trailing whitespace"),
        ("gpgsign", "gpg failed to sign the data"),
    ],
)
def test_a_failing_release_commit_is_rolled_back_and_the_rerun_converges(
    project: Project, templates: Templates, tmp_path: Path, setup: str, reason: str
) -> None:
    if setup == "hook":
        hook(project.work, "pre-commit", f"echo '{reason}' >&2; exit 1")
    else:
        project.git("config", "commit.gpgsign", "true")
        gpg = tmp_path / "gpg-without-keys"
        gpg.write_text(f'#!/bin/sh\nGNUPGHOME={tmp_path}/gnupg exec gpg "$@"\n')
        gpg.chmod(0o755)
        (tmp_path / "gnupg").mkdir(mode=0o700)
        project.git("config", "gpg.program", str(gpg))
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert lines == [
        f"error: git commit of the release failed: {reason}; the release files, the index and "
        "the branch were restored: fix what git says (a hook, commit signing), then run the "
        "same command again"
    ]
    if setup == "hook":
        remove_hook(project.work, "pre-commit")
    else:
        project.git("config", "--unset", "commit.gpgsign")
    ok(project, "release.prepare", "--version", "1.1.0")
    done = reference(
        templates, tmp_path / "ref", released, ("release.prepare", "--version", "1.1.0")
    )
    assert outcome(project) == outcome(done)


# 11: two release.prepare runs at once: the second is refused, the first finishes.
def test_a_second_run_at_once_is_refused_and_the_first_finishes(
    project: Project, templates: Templates, tmp_path: Path
) -> None:
    waiting, go = tmp_path / "waiting", tmp_path / "go"
    hook(
        project.work,
        "pre-commit",
        f"touch {waiting}; i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.1; "
        "i=$((i+1)); done",
    )
    command = [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), "release.prepare"]
    first = subprocess.Popen(
        [*command, "--version", "1.1.0", "--repo", str(project.work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not waiting.exists():
            assert time.monotonic() < deadline and first.poll() is None, first.communicate()
            time.sleep(0.05)
        lines = refused(project, "release.prepare", "--version", "1.1.0")
        assert lines == [
            f"error: another release run (pid {first.pid}) is working in this repository: "
            "wait for it to finish, then run the same command again"
        ]
    finally:
        go.touch()
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    remove_hook(project.work, "pre-commit")
    done = reference(
        templates, tmp_path / "ref", released, ("release.prepare", "--version", "1.1.0")
    )
    assert outcome(project) == outcome(done)


# 12: every push failure of release.tag says the remote's (or the hook's) own words.
@pytest.mark.parametrize(
    ("where", "name", "body", "message"),
    [
        (
            "work",
            "pre-push",
            "echo 'pre-push: the test suite failed' >&2; exit 1",
            "error: the pre-push hook refused the push of main and v1.1.0, so nothing was "
            "pushed (pre-push: the test suite failed): fix what the hook says, then run the "
            "same command again",
        ),
        (
            "origin",
            "pre-receive",
            "echo 'policy: tags are created by CI only'; exit 1",
            "error: origin rejected the push of main and v1.1.0, so nothing was pushed (policy: "
            "tags are created by CI only; pre-receive hook declined): fix what origin says, "
            "then run the same command again",
        ),
    ],
)
def test_a_refused_tag_push_says_why_and_changes_nothing(
    project: Project,
    templates: Templates,
    tmp_path: Path,
    where: str,
    name: str,
    body: str,
    message: str,
) -> None:
    ok(project, "release.prepare", "--version", "1.1.0")
    hook(project.work if where == "work" else project.origin, name, body)
    assert refused(project, "release.tag", "--version", "1.1.0") == [message]
    remove_hook(project.work if where == "work" else project.origin, name)
    ok(project, "release.tag", "--version", "1.1.0")
    done = reference(
        templates,
        tmp_path / "ref",
        released,
        ("release.prepare", "--version", "1.1.0"),
        ("release.tag", "--version", "1.1.0"),
    )
    assert outcome(project) == outcome(done)


def test_names_that_could_be_ambiguous_push_the_right_refs(project: Project) -> None:
    """A branch named like the tag, and a tag named like the branch, on both sides."""
    project.git("branch", "v1.1.0")
    project.git("tag", "-a", "-m", "not a release", "main", "HEAD~1")
    project.push("v1.1.0", "refs/tags/main")
    ok(project, "release.prepare", "--version", "1.1.0")
    ok(project, "release.tag", "--version", "1.1.0")
    assert git(project.origin, "rev-parse", "refs/heads/main") == project.git("rev-parse", "HEAD")
    assert git(project.origin, "cat-file", "-t", "refs/tags/v1.1.0") == "tag"
    assert git(project.origin, "rev-parse", "refs/tags/v1.1.0^{commit}") == project.git(
        "rev-parse", "HEAD"
    )


# 13 and 10: origin moved after prepare; the advice given works and gives a consistent release.
def colleague_pushes(project: Project) -> None:
    other = project.clone("colleague")
    other.commit("fix: colleague's fix (#46)", "src/colleague.txt", "colleague\n")
    other.push("main")


def test_origin_moved_after_prepare_gives_advice_that_works(project: Project) -> None:
    ok(project, "release.prepare", "--version", "1.1.0")
    colleague_pushes(project)
    lines = refused(project, "release.tag", "--version", "1.1.0")
    assert lines == [
        "error: origin/main has moved since the release commit was made: git reset --keep "
        "main~1 (drops the release commit), git pull --ff-only origin main, then run the "
        "release again"
    ]
    project.git("reset", "-q", "--keep", "main~1")
    project.git("pull", "-q", "--ff-only", "origin", "main")
    ok(project, "release.prepare", "--version", "1.1.0")
    ok(project, "release.tag", "--version", "1.1.0")
    section = project.git("show", "v1.1.0:CHANGELOG.md").split("## [1.1.0]")[1].split("## [")[0]
    assert "colleague's fix" in section
    assert "colleague's fix" in project.git("tag", "-l", "--format=%(contents)", "v1.1.0")


def test_tagging_a_rebased_release_commit_is_refused(project: Project) -> None:
    """The old advice, git pull --rebase then tag: the CHANGELOG section would lack the
    colleague's commit that the tag's notes list, so tagging is refused."""
    ok(project, "release.prepare", "--version", "1.1.0")
    colleague_pushes(project)
    project.git("pull", "-q", "--rebase", "origin", "main")
    lines = refused(project, "release.tag", "--version", "1.1.0")
    assert lines == [
        "error: the CHANGELOG.md section of 1.1.0 in the release commit does not match the "
        "commits it releases (main moved after release.prepare): git reset --keep main~1 "
        "(drops the release commit), then run invoke release.prepare --version 1.1.0 and "
        "tag again"
    ]
    project.git("reset", "-q", "--keep", "main~1")
    ok(project, "release.prepare", "--version", "1.1.0")
    ok(project, "release.tag", "--version", "1.1.0")
    section = project.git("show", "v1.1.0:CHANGELOG.md").split("## [1.1.0]")[1].split("## [")[0]
    assert "colleague's fix" in section


# 1: origin has develop, this clone never fetched it.
def test_hotfix_finish_with_develop_not_fetched(templates: Templates, tmp_path: Path) -> None:
    line = templates.copy(hotfix_line, tmp_path)
    fresh = tmp_path / "fresh"
    git(
        tmp_path,
        "clone",
        "-q",
        "--single-branch",
        "-b",
        "main",
        f"file://{line.origin}",
        str(fresh),
    )
    project = Project(line.origin, fresh)
    project.git("config", "user.name", "Release Tester")
    project.git("config", "user.email", "release-tester@example.org")
    ok(project, "hotfix", "1.2.1")
    fixed_commit(
        project, "fix: refuse reused authorization codes (#43)", "src/auth.txt", "auth v2\n"
    )

    lines = refused(project, "hotfix.finish")

    assert lines == [
        "error: origin/develop is not fetched here, and the hotfix must be merged into it: "
        "git fetch origin develop"
    ]
    project.git("fetch", "-q", "origin", "develop")
    ok(project, "hotfix.finish")
    done = reference(templates, tmp_path / "ref", hotfix_line, ("hotfix", "1.2.1"))
    fixed_commit(done, "fix: refuse reused authorization codes (#43)", "src/auth.txt", "auth v2\n")
    ok(done, "hotfix.finish")
    assert remote_outcome(project) == remote_outcome(done)


# 3: a rejected hotfix.finish push: by a hook (the rerun finishes), or because main moved
# (the advice given, then the rerun, finishes).
def test_hotfix_finish_push_rejected_by_the_remote_is_finished_by_the_rerun(
    templates: Templates, tmp_path: Path
) -> None:
    project = templates.copy(hotfix_ready, tmp_path)
    hook(project.origin, "pre-receive", "echo 'policy: releases are frozen today'; exit 1")
    lines = failed(project, "hotfix.finish")
    assert lines == [
        "error: origin rejected the push of main and v1.2.1, so nothing was pushed (policy: "
        "releases are frozen today; pre-receive hook declined): fix what origin says, then run "
        "the same command again"
    ]
    remove_hook(project.origin, "pre-receive")
    ok(project, "hotfix.finish")
    done = reference(templates, tmp_path / "ref", hotfix_ready, ("hotfix.finish",))
    assert outcome(project) == outcome(done)


def colleague_releases(project: Project) -> Project:
    """A colleague's clone holding release 1.3.0 of main, made but not pushed."""
    other = project.clone("colleague")
    other.commit("feat: pushed authorization requests (#50)", "src/par.txt", "par\n")
    for name in ("Cargo.toml", "Cargo.lock"):
        text = (other.work / name).read_text()
        other.write(name, text.replace('version = "1.2.0"', 'version = "1.3.0"'))
    other.git("commit", "-qam", "chore(release): v1.3.0")
    other.git("tag", "-a", "-m", "Barycenter v1.3.0", "v1.3.0")
    return other


def test_hotfix_finish_push_rejected_because_main_moved(
    templates: Templates, tmp_path: Path
) -> None:
    project = templates.copy(hotfix_ready, tmp_path)
    other = colleague_releases(project)
    # The colleague's push lands while this hotfix is being finished, after its merge.
    flag = tmp_path / "pushed"
    hook(
        project.work,
        "post-merge",
        f"[ -e {flag} ] || {{ touch {flag}; git -C {other.work} push -q --atomic origin "
        "main v1.3.0; }",
    )
    lines = failed(project, "hotfix.finish")
    assert lines == [
        "error: origin rejected the push of main and v1.2.1, so nothing was pushed (fetch "
        "first; atomic push failed): origin/main moved: git fetch origin, git switch main, "
        "git reset --keep origin/main (drops the local merge), then run invoke hotfix.finish "
        "--version 1.2.1 again"
    ]
    project.git("fetch", "-q", "origin")
    project.git("switch", "-q", "main")
    project.git("reset", "-q", "--keep", "origin/main")
    ok(project, "hotfix.finish", "--version", "1.2.1")
    # As if the colleague had released first: 1.2.1 is tagged on its branch, main stays.
    ref = tmp_path / "ref"
    ref.mkdir()
    done = templates.copy(hotfix_ready, ref)
    first = colleague_releases(done)
    first.git("push", "-q", "--atomic", "origin", "main", "v1.3.0")
    done.git("fetch", "-q", "origin")
    done.git("switch", "-q", "main")
    done.git("merge", "-q", "--ff-only", "origin/main")
    done.git("switch", "-q", "hotfix/1.2.1")
    ok(done, "hotfix.finish", "--version", "1.2.1")
    assert remote_outcome(project) == remote_outcome(done)
    assert git(project.origin, "rev-parse", "v1.2.1^{commit}") == git(
        project.origin, "rev-parse", "hotfix/1.2.1"
    )


# 5: hotfix X --push rejected by the remote: one line, and the rerun publishes.
def test_hotfix_start_push_rejected_then_the_rerun_publishes(
    templates: Templates, tmp_path: Path
) -> None:
    project = templates.copy(hotfix_line, tmp_path)
    hook(project.origin, "pre-receive", "echo 'policy: hotfix branches need a ticket'; exit 1")
    lines = failed(project, "hotfix", "1.2.1", "--push")
    assert lines == [
        "error: origin refused hotfix/1.2.1 (policy: hotfix branches need a ticket; pre-receive "
        "hook declined); the branch stays local: fix what origin says, then run invoke hotfix "
        "1.2.1 --push again"
    ]
    remove_hook(project.origin, "pre-receive")
    ok(project, "hotfix", "1.2.1", "--push")
    done = reference(templates, tmp_path / "ref", hotfix_line, ("hotfix", "1.2.1", "--push"))
    assert outcome(project) == outcome(done)
