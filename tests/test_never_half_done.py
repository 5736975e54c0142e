"""Hostile cases of the git flow where git itself fails or races mid-way (a hook, commit signing,
an unfetched develop, a second run): each is refused before anything changes (one line naming the
fix, exit 1, byte-identical refs, remote refs, HEAD, index, worktree), or, where a rerun is the
recovery, the rerun reaches the end state of an uninterrupted run. Hostile inputs refused up
front (bad configuration, manifests, changelogs, tags, remotes) are in test_hostile_inputs.py."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.gitrepos import REPO_ROOT, Project, git, make_project, refused

pytestmark = pytest.mark.repo


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """main at 0.1.0 with one feature commit to release, develop beside it."""
    project = make_project(tmp_path, version="0.1.0")
    project.commit("feat: add device code flow (#45)")
    project.push("main")
    return project


def hook(project: Project, name: str, body: str) -> None:
    path = project.work / ".git" / "hooks" / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_a_failing_pre_commit_hook_restores_every_file(project: Project) -> None:
    hook(project, "pre-commit", "echo 'lint failed: trailing space' >&2; exit 1")
    lines = refused(project, "release.prepare", "--version", "1.0.0")
    assert lines == [
        "error: git commit of the release failed: lint failed: trailing space; the release "
        "files, the index and the branch were restored: fix what git says (a hook, commit "
        "signing), then run the same command again"
    ]
    (project.work / ".git" / "hooks" / "pre-commit").unlink()
    rerun = project.invoke("release.prepare", "--version", "1.0.0")
    assert rerun.returncode == 0, rerun.stderr
    assert project.git("log", "-1", "--format=%s") == "chore(release): v1.0.0"


def test_commit_signing_without_a_key_restores_every_file(project: Project) -> None:
    project.git("config", "commit.gpgsign", "true")
    project.git("config", "gpg.program", "/bin/false")
    lines = refused(project, "release.prepare", "--version", "1.0.0")
    assert len(lines) == 1
    assert lines[0].startswith("error: git commit of the release failed: ")
    assert lines[0].endswith("then run the same command again")


def task_argv() -> list[str]:
    """The task line without --repo (each test adds its own)."""
    return [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT)]


def test_finishing_a_hotfix_into_an_unfetched_develop_is_refused_before_acting(
    project: Project, tmp_path: Path
) -> None:
    assert project.invoke("release.prepare", "--version", "1.0.0").returncode == 0
    assert project.invoke("release.tag", "--version", "1.0.0").returncode == 0
    project.git("switch", "-q", "develop")
    project.commit("feat: work for the next minor", "src/next.txt", "next\n")
    project.push("develop")
    lone = tmp_path / "lone"
    git(
        tmp_path,
        "clone",
        "-q",
        "--no-local",
        "--single-branch",
        "--branch",
        "main",
        str(project.origin),
        str(lone),
    )
    git(lone, "config", "user.name", "Release Tester")
    git(lone, "config", "user.email", "release-tester@example.org")
    clone = Project(project.origin, lone)
    assert clone.invoke("hotfix", "1.0.1").returncode == 0
    clone.commit("fix: token reuse (#50)")
    lines = refused(clone, "hotfix.finish")
    assert lines == [
        "error: origin/develop is not fetched here, and the hotfix must be merged into it: "
        "git fetch origin develop"
    ]
    git(lone, "fetch", "-q", "origin", "develop:refs/remotes/origin/develop")
    finished = clone.invoke("hotfix.finish")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert git(project.origin, "merge-base", "--is-ancestor", "v1.0.1", "develop") == ""


def test_a_second_prepare_while_one_runs_is_refused_cleanly(project: Project) -> None:
    hook(project, "pre-commit", "sleep 3")
    first = subprocess.Popen(
        [
            *task_argv(),
            "release.prepare",
            "--version",
            "1.0.0",
            "--repo",
            str(project.work),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    second = project.invoke("release.prepare", "--version", "1.0.0")
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert second.stderr.startswith("error: another release run (pid ")
    assert project.git("log", "--format=%s").splitlines().count("chore(release): v1.0.0") == 1
