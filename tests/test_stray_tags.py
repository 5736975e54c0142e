"""A tag that exists is not yet a release (issue 19, part 1).

vX counts as X's release only when it is annotated and marks, on the release branch (or on
hotfix/X), a commit whose Cargo.toml and Cargo.lock say X, whose CHANGELOG.md has X's section,
and which is the release commit or the merge that brought it. `not_a_release` decides it from
facts (the table below); on real repositories with a bare origin, every other shape of vX, here
or on the remote, is refused before anything acts: one line naming the tag, the commit it marks
and the fix, exit status 1, and refs (here and on the origin), HEAD, index and files unchanged.
Then the fix it names is run, and the task runs to the end.

Shapes beyond the issue's: vX on the remote only; a commit whose Cargo.toml says X but which is
not the release commit; a release commit made on a colleague's branch, never merged; an
SSH-signed tag elsewhere; vX on develop; "release another version" as the fix.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import pytest
import semver

from release.release_tag import TaggedCommit, not_a_release
from tests.gitrepos import Project, git, refused
from tests.halfdone import Templates, hotfix_ready, ok, released

V = semver.Version.parse("1.1.0")
MESSAGE = "chore(release): v{version}"
RELEASE = TaggedCommit(
    where="here",
    commit="a" * 40,
    annotated=True,
    on_branch=True,
    manifest_version="1.1.0",
    lock_versions=("1.1.0",),
    changelog_section=True,
    subject="chore(release): v1.1.0",
)


def shape(**changes: Any) -> TaggedCommit:
    return dataclasses.replace(RELEASE, **changes)


@pytest.mark.parametrize(
    ("tagged", "reason"),
    [
        (RELEASE, None),
        (shape(subject="[OPS-1] chore(release): v1.1.0"), None),  # a commit-msg hook's prefix
        (shape(lock_versions=()), None),  # no Cargo.lock committed
        (
            shape(subject="Merge branch 'hotfix/1.1.0'", merged_subject="chore(release): v1.1.0"),
            None,
        ),
        (shape(annotated=False), "a lightweight tag"),
        (shape(on_branch=False), "not on main"),
        (shape(on_branch=None), "not on main here, and the remote's main is not fetched"),
        (shape(manifest_version="1.0.0"), "its Cargo.toml says 1.0.0"),
        (shape(manifest_version=None), "its Cargo.toml says no version"),
        (shape(lock_versions=("1.0.0",)), "its Cargo.lock says 1.0.0"),
        (
            shape(subject="chore: bump to 1.1.0"),
            "not the release commit: its subject is 'chore: bump to 1.1.0'",
        ),
        (
            shape(subject="Merge branch 'feature'", merged_subject="feat: sso"),
            "not the release commit: its subject is \"Merge branch 'feature'\"",
        ),
        (shape(changelog_section=False), "its CHANGELOG.md has no [1.1.0] section"),
        # The first reason found is the one given: lightweight before anything else.
        (shape(annotated=False, on_branch=False), "a lightweight tag"),
    ],
)
def test_what_makes_a_tag_the_release(tagged: TaggedCommit, reason: str | None) -> None:
    assert not_a_release(tagged, V, MESSAGE.format(version=V), "main") == reason


@pytest.fixture
def project(templates: Templates, tmp_path: Path) -> Project:
    """v1.0.0 released from main, one feature commit since, pushed; develop beside it."""
    return templates.copy(released, tmp_path)


def line(tag: str, where: str, commit: str, reason: str, fix: str) -> str:
    version = tag.removeprefix("v")
    return (
        f"error: tag {tag} {where} marks {commit[:12]}, which is not the release of {version} "
        f"({reason}): delete it ({fix}), or release another version"
    )


LOCAL = "git tag -d v1.1.0"
REMOTE = "git push origin :refs/tags/v1.1.0"
BOTH = f"{LOCAL} && {REMOTE}"
TASKS = (("release.prepare", "--version", "1.1.0"), ("release.tag", "--version", "1.1.0"))


def refused_everywhere(project: Project, expected: str) -> None:
    """Every task whose steps read the tag refuses with the one line, changing nothing."""
    for task in (*TASKS, ("release", "--version", "1.1.0", "--ci", "--dry-run")):
        assert refused(project, *task) == [expected], task
    status = project.invoke("release.status", "--version", "1.1.0", "--format", "json")
    assert status.returncode == 0, status.stderr
    assert expected.removeprefix("error: ") in status.stdout


def released_properly(project: Project) -> None:
    """The fix was run: prepare and tag now make the real v1.1.0 and push it."""
    for task in TASKS:
        ok(project, *task)
    for where in (project.work, project.origin):
        assert git(where, "cat-file", "-t", "refs/tags/v1.1.0") == "tag"
        commit = git(where, "rev-parse", "refs/tags/v1.1.0^{commit}")
        assert git(where, "rev-parse", "refs/heads/main") == commit
        assert git(where, "log", "-1", "--format=%s", commit) == "chore(release): v1.1.0"
    assert project.version("v1.1.0") == "1.1.0"
    assert "feat: add device code flow" in project.git("show", "v1.1.0:CHANGELOG.md")


@pytest.mark.repo
def test_a_tag_on_an_older_main_commit_is_refused_until_deleted(project: Project) -> None:
    """The issue's shape: v1.1.0 on v1.0.0's release commit, whose Cargo.toml says 1.0.0."""
    old = project.git("rev-parse", "main~1")
    project.git("tag", "-a", "v1.1.0", "-m", "stray", old)

    refused_everywhere(project, line("v1.1.0", "here", old, "its Cargo.toml says 1.0.0", LOCAL))

    project.git("tag", "-d", "v1.1.0")
    released_properly(project)


@pytest.mark.repo
def test_a_pushed_stray_tag_is_refused_until_deleted_here_and_on_the_remote(
    project: Project,
) -> None:
    old = project.git("rev-parse", "main~1")
    project.git("tag", "-a", "v1.1.0", "-m", "stray", old)
    project.push("v1.1.0")

    refused_everywhere(
        project, line("v1.1.0", "here and on origin", old, "its Cargo.toml says 1.0.0", BOTH)
    )

    project.git("tag", "-d", "v1.1.0")
    project.git("push", "-q", "origin", ":refs/tags/v1.1.0")
    released_properly(project)


@pytest.mark.repo
def test_a_tag_only_on_the_remote_is_refused_until_deleted_there(project: Project) -> None:
    colleague = project.clone("colleague")
    old = colleague.git("rev-parse", "main~1")
    colleague.git("tag", "-a", "v1.1.0", "-m", "stray", old)
    colleague.push("v1.1.0")

    refused_everywhere(
        project, line("v1.1.0", "on origin", old, "its Cargo.toml says 1.0.0", REMOTE)
    )

    project.git("push", "-q", "origin", ":refs/tags/v1.1.0")
    released_properly(project)


@pytest.mark.repo
def test_a_tag_on_develop_is_refused(project: Project) -> None:
    project.git("switch", "-q", "develop")
    work = project.commit("feat: next thing on develop", "src/next.txt", "next\n")
    project.push("develop")
    project.git("tag", "-a", "v1.1.0", "-m", "stray", work)
    project.git("switch", "-q", "main")

    refused_everywhere(project, line("v1.1.0", "here", work, "not on main", LOCAL))

    project.git("tag", "-d", "v1.1.0")
    released_properly(project)


@pytest.mark.repo
def test_another_version_is_the_other_fix(project: Project) -> None:
    """A stray v1.1.0 off main is left alone, and 1.2.0 is released instead."""
    project.git("switch", "-q", "develop")
    work = project.commit("feat: next thing on develop", "src/next.txt", "next\n")
    project.git("tag", "-a", "v1.1.0", "-m", "stray", work)
    project.git("switch", "-q", "main")
    refused(project, *TASKS[0])

    ok(project, "release.prepare", "--version", "1.2.0")
    ok(project, "release.tag", "--version", "1.2.0")

    assert git(project.origin, "rev-parse", "v1.2.0^{commit}") == project.git("rev-parse", "main")
    assert project.git("rev-parse", "v1.1.0^{commit}") == work  # left as it was


@pytest.mark.repo
def test_a_lightweight_tag_elsewhere_is_refused_by_prepare_too(project: Project) -> None:
    tip = project.git("rev-parse", "main")
    project.git("tag", "v1.1.0", tip)

    refused_everywhere(project, line("v1.1.0", "here", tip, "a lightweight tag", LOCAL))

    project.git("tag", "-d", "v1.1.0")
    released_properly(project)


@pytest.mark.repo
def test_a_commit_saying_the_version_is_not_the_release_commit(project: Project) -> None:
    """Cargo.toml and Cargo.lock bumped by hand and tagged: no release commit, no section."""
    for name in ("Cargo.toml", "Cargo.lock"):
        text = (project.work / name).read_text()
        project.write(name, text.replace('version = "1.0.0"', 'version = "1.1.0"'))
    project.git("commit", "-qam", "chore: bump to 1.1.0")
    bump = project.git("rev-parse", "HEAD")
    project.push("main")
    project.git("tag", "-a", "v1.1.0", "-m", "stray", bump)

    refused_everywhere(
        project,
        line(
            "v1.1.0",
            "here",
            bump,
            "not the release commit: its subject is 'chore: bump to 1.1.0'",
            LOCAL,
        ),
    )

    project.git("tag", "-d", "v1.1.0")
    released_properly(project)


@pytest.mark.repo
def test_a_release_commit_never_merged_into_main_is_refused(project: Project) -> None:
    """A colleague prepared 1.1.0 on a branch of their own and tagged it there."""
    colleague = project.clone("colleague")
    ok(colleague, "release.prepare", "--version", "1.1.0")
    commit = colleague.git("rev-parse", "HEAD")
    colleague.git("tag", "-a", "v1.1.0", "-m", "elsewhere")
    colleague.git("push", "-q", "origin", "refs/tags/v1.1.0", "main:refs/heads/try-release")
    project.git("fetch", "-q", "--no-tags", "origin")

    refused_everywhere(project, line("v1.1.0", "on origin", commit, "not on main", REMOTE))

    project.git("push", "-q", "origin", ":refs/tags/v1.1.0")
    released_properly(project)


@pytest.mark.repo
def test_a_signed_tag_elsewhere_is_refused_the_same(project: Project, tmp_path: Path) -> None:
    key = tmp_path / "signing"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    project.git("config", "gpg.format", "ssh")
    project.git("config", "user.signingkey", str(key))
    old = project.git("rev-parse", "main~1")
    project.git("tag", "-s", "v1.1.0", "-m", "signed, elsewhere", old)
    assert "-----BEGIN SSH SIGNATURE-----" in project.git("cat-file", "tag", "v1.1.0")

    refused_everywhere(project, line("v1.1.0", "here", old, "its Cargo.toml says 1.0.0", LOCAL))

    project.git("tag", "-d", "v1.1.0")
    released_properly(project)


@pytest.mark.repo
def test_a_hotfix_tag_made_elsewhere_is_refused(templates: Templates, tmp_path: Path) -> None:
    """hotfix.finish with a v1.2.1 on the fix commit, before any release commit."""
    project = templates.copy(hotfix_ready, tmp_path)
    fix = project.git("rev-parse", "hotfix/1.2.1")
    project.git("tag", "-a", "v1.2.1", "-m", "too early", fix)
    expected = (
        f"error: tag v1.2.1 here marks {fix[:12]}, which is not the release of 1.2.1 (its "
        "Cargo.toml says 1.2.0): delete it (git tag -d v1.2.1), or release another version"
    )

    assert refused(project, "hotfix.finish", "--version", "1.2.1") == [expected]
    assert refused(project, "hotfix.finish") == [expected]

    project.git("tag", "-d", "v1.2.1")
    ok(project, "hotfix.finish", "--version", "1.2.1")
    merge = git(project.origin, "rev-parse", "v1.2.1^{commit}")
    assert git(project.origin, "rev-parse", "main") == merge
    assert project.git("log", "-1", "--format=%s", f"{merge}^2") == "chore(release): v1.2.1"
    assert "refuse reused authorization codes" in project.git("show", "v1.2.1:CHANGELOG.md")


@pytest.mark.repo
def test_a_finished_hotfix_is_a_release_for_the_steps_after_it(
    templates: Templates, tmp_path: Path
) -> None:
    """The merge commit a hotfix tags counts as the release, for the hotfix flow and for the
    release flow that the tag-triggered steps plan with."""
    project = templates.copy(hotfix_ready, tmp_path)
    ok(project, "hotfix.finish", "--version", "1.2.1")
    again = ok(project, "hotfix.finish", "--version", "1.2.1")
    assert "error" not in again
    status = project.invoke("release.status", "--version", "1.2.1", "--format", "json")
    assert "not the release of" not in status.stdout


@pytest.mark.repo
def test_asking_again_for_a_release_says_what_followed_it(project: Project) -> None:
    """Converging is not wrong (exit 0), but the commits since the release are named."""
    commit = project.git("rev-parse", "v1.0.0^{commit}")
    before = project.state()

    done = ok(project, "release.prepare", "--version", "1.0.0")

    assert done.splitlines()[1:] == [
        f"= prepare: already done (v1.0.0 exists on the release commit {commit[:12]}, followed "
        "by 1 commit on main that is unreleased and would make 1.1.0)"
    ]
    tagged = ok(project, "release.tag", "--version", "1.0.0")
    assert tagged.splitlines()[1:] == [
        f"= tag: already done (v1.0.0 on the release commit {commit[:12]}, followed by 1 commit "
        "on main that is unreleased and would make 1.1.0)",
        "= push: already done (v1.0.0 on origin)",
    ]
    assert project.state() == before


@pytest.mark.repo
def test_a_release_whose_branch_is_not_fetched_is_not_called_stray(project: Project) -> None:
    """Another clone released 1.1.0 and main moved on; here only the tag was fetched. Whether
    v1.1.0 is on main cannot be told, so the fix is a fetch, never deleting a release."""
    colleague = project.clone("colleague")
    ok(colleague, "release.prepare", "--version", "1.1.0")
    ok(colleague, "release.tag", "--version", "1.1.0")
    commit = colleague.git("rev-parse", "HEAD")
    colleague.commit("feat: after the release", "src/after.txt", "after\n")
    colleague.push("main")
    project.git("fetch", "-q", "--no-tags", "origin", "refs/tags/v1.1.0:refs/tags/v1.1.0")

    lines = refused(project, "release.tag", "--version", "1.1.0")

    assert lines == [
        f"error: tag v1.1.0 here and on origin marks {commit[:12]}, which may not be the "
        "release of 1.1.0 (not on main here, and the remote's main is not fetched): git fetch "
        "origin, then run the same command again"
    ]
    project.git("fetch", "-q", "origin")  # the fix it names
    done = ok(project, "release.tag", "--version", "1.1.0")
    assert done.splitlines()[1:] == [
        f"= tag: already done (v1.1.0 on {commit[:12]})",
        "= push: already done (v1.1.0 on origin)",
    ]
