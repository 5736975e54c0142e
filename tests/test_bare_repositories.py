"""Bare repositories (issue 19, part 3): notes and the changelog need no work tree, so they read
a bare clone as git-cliff does, configuration and CHANGELOG.md taken from HEAD; whatever needs a
work tree is refused in one line saying the repository is bare, and the fix it names works."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitrepos import Project, configure_identity, git, invoke
from tests.halfdone import Templates, ok, released

pytestmark = pytest.mark.repo


@pytest.fixture
def project(templates: Templates, tmp_path: Path) -> Project:
    return templates.copy(released, tmp_path)


def bare_clone(project: Project) -> Path:
    bare = project.work.parent / "mirror.git"
    git(project.work.parent, "clone", "-q", "--bare", str(project.origin), str(bare))
    return bare


def snapshot(bare: Path) -> tuple[str, list[str]]:
    refs = git(bare, "for-each-ref", "--format=%(refname) %(objectname)")
    return refs, sorted(str(p.relative_to(bare)) for p in bare.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "args",
    [
        ("release.notes",),
        ("release.notes", "--version", "1.0.0"),
        ("release.notes", "--format", "json"),
        ("release.changelog", "--output", "-"),
        ("release.changelog", "--full", "--output", "-"),
    ],
)
def test_notes_and_changelog_read_a_bare_repository(
    project: Project, args: tuple[str, ...]
) -> None:
    bare = bare_clone(project)
    in_bare = invoke(bare, *args)
    assert in_bare.returncode == 0, in_bare.stderr
    assert in_bare.stdout == ok(project, *args)
    assert "https://github.com/example/barycenter" in in_bare.stdout  # source-url from HEAD


def test_writing_the_changelog_into_a_bare_repository_is_refused(project: Project) -> None:
    bare = bare_clone(project)
    ok(project, "release.changelog", "--output", "-")  # the cache: made, not compared
    invoke(bare, "release.changelog", "--output", "-")
    before = snapshot(bare)

    result = invoke(bare, "release.changelog")

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {bare} is a bare repository, which has no work tree to write CHANGELOG.md "
        "into: pass --output - to print it, or an absolute path"
    ]
    assert snapshot(bare) == before
    target = project.work.parent / "CHANGELOG.out.md"
    fixed = invoke(bare, "release.changelog", "--output", str(target))  # the fix it names
    assert fixed.returncode == 0, fixed.stderr
    assert target.read_text() == ok(project, "release.changelog", "--output", "-")


def test_a_release_in_a_bare_repository_is_refused_and_a_clone_releases(
    project: Project,
) -> None:
    bare = bare_clone(project)
    before = snapshot(bare)

    result = invoke(bare, "release.prepare", "--version", "1.1.0")

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {bare} is a bare repository, and a release commits, tags and merges in a work "
        f"tree: run it in a clone (git clone {bare}); release.notes and release.changelog "
        "--output - read a bare repository"
    ]
    assert snapshot(bare) == before
    clone = project.work.parent / "clone"
    git(project.work.parent, "clone", "-q", str(bare), str(clone))  # the fix it names
    configure_identity(clone)
    prepared = invoke(clone, "release.prepare", "--version", "1.1.0")
    assert prepared.returncode == 0, prepared.stderr
    assert git(clone, "log", "-1", "--format=%s") == "chore(release): v1.1.0"
