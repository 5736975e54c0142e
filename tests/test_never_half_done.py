"""Hostile cases of the git flow: each is refused before anything changes (one line naming the
fix, exit 1, byte-identical refs, remote refs, HEAD, index, worktree), or, where a rerun is the
recovery, the rerun reaches the end state of an uninterrupted run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.gitrepos import Project, git, make_project, refused

pytestmark = pytest.mark.repo


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """main at 0.1.0 with one feature commit to release, develop beside it."""
    project = make_project(tmp_path, version="0.1.0")
    project.commit("feat: add device code flow (#45)")
    project.push("main")
    return project


def commit_files(project: Project, message: str, **files: bytes) -> None:
    for name, data in files.items():
        (project.work / name).write_bytes(data)
    project.git("add", *files)
    project.git("commit", "-q", "-m", message)
    project.push("main")


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


def test_a_merge_in_progress_is_named_with_how_to_finish_it(project: Project) -> None:
    project.git("switch", "-q", "-c", "side")
    project.commit("feat: side", "src/auth.txt", "side\n")
    project.git("switch", "-q", "main")
    project.commit("feat: main", "src/auth.txt", "main\n")
    project.push("main")
    project.git("merge", "side", check=False)
    lines = refused(project, "release.prepare", "--version", "1.0.0")
    assert (
        "error: a merge is in progress: finish it (git merge --continue, or git merge --abort) "
        "before releasing"
    ) in lines


@pytest.mark.parametrize(
    ("case", "data", "message"),
    [
        (
            "latin-1",
            "# Changelog\n\n## [Unreleased]\n\n- caf\xe9\n".encode("latin-1"),
            "error: CHANGELOG.md is not UTF-8 (byte 35 is 0xe9): convert it: iconv -f latin1 "
            "-t utf-8 CHANGELOG.md -o CHANGELOG.md.new && mv CHANGELOG.md.new CHANGELOG.md",
        ),
        (
            "no Unreleased",
            b"# Changelog\n\n## [0.1.0] - 2026-01-01\n",
            "error: CHANGELOG.md has no '## [Unreleased]' section: add one below the "
            "introduction (Keep a Changelog 1.1.0)",
        ),
    ],
)
def test_a_changelog_that_cannot_be_finalized_is_refused_before_any_write(
    project: Project, case: str, data: bytes, message: str
) -> None:
    commit_files(project, f"docs: a changelog with {case}", **{"CHANGELOG.md": data})
    assert refused(project, "release.prepare", "--version", "1.0.0") == [message]


def test_a_missing_changelog_is_refused_also_in_a_dry_run(project: Project) -> None:
    project.git("rm", "-q", "CHANGELOG.md")
    project.git("commit", "-q", "-m", "docs: drop the changelog")
    project.push("main")
    for extra in ([], ["--dry-run"]):
        lines = refused(project, "release.prepare", "--version", "1.0.0", *extra)
        assert lines == [
            "error: CHANGELOG.md is not committed on main: add and commit "
            "CHANGELOG.md (Keep a Changelog 1.1.0 for CHANGELOG.md)"
        ]


def test_crlf_files_keep_their_line_endings(project: Project) -> None:
    manifest = (project.work / "Cargo.toml").read_bytes().replace(b"\n", b"\r\n")
    log = (project.work / "CHANGELOG.md").read_bytes().replace(b"\n", b"\r\n")
    commit_files(project, "chore: windows line endings", **{"Cargo.toml": manifest})
    commit_files(project, "chore: windows changelog", **{"CHANGELOG.md": log})
    result = project.invoke("release.prepare", "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    changed = project.git("diff", "--numstat", "HEAD~1", "--", "Cargo.toml").split()
    assert changed[:2] == ["1", "1"]  # one line, not every line
    assert b"\n" not in (project.work / "CHANGELOG.md").read_bytes().replace(b"\r\n", b"")


def test_a_lightweight_tag_on_the_release_commit_is_refused_with_the_fix(project: Project) -> None:
    assert project.invoke("release.prepare", "--version", "1.0.0").returncode == 0
    project.git("tag", "v1.0.0")
    lines = refused(project, "release.tag", "--version", "1.0.0")
    assert lines == [
        "error: tag v1.0.0 is a lightweight tag, which carries no notes: delete it "
        "(git tag -d v1.0.0) and let the release make the annotated tag"
    ]


def test_a_version_above_cargos_64_bits_is_refused(project: Project) -> None:
    lines = refused(project, "release.prepare", "--version", "99999999999999999999.0.0")
    assert lines == [
        "error: version '99999999999999999999.0.0' has a number above 18446744073709551615: "
        "Cargo requires each of MAJOR.MINOR.PATCH to fit in 64 bits: use a smaller one"
    ]


def test_a_remote_that_is_an_option_never_reaches_git(project: Project, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    pyproject = project.work / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + f'remote = "--upload-pack=touch {marker};git-upload-pack"\n'
    )
    project.git("commit", "-qam", "ci: a hostile remote")
    project.push("main")
    for extra in ([], ["--dry-run"]):
        lines = refused(project, "release.prepare", "--version", "1.0.0", *extra)
        assert lines == [
            f"error: remote = '--upload-pack=touch {marker};git-upload-pack' in "
            "[tool.barycenter.release] is not a usable git name: use a plain name such as "
            "origin, main or develop"
        ]
    assert not marker.exists()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            'commit-message = "release {ver}"',
            "error: commit-message = 'release {ver}' in [tool.barycenter.release] has a "
            'placeholder other than {version}: use {version} only, e.g. "chore(release): '
            'v{version}"',
        ),
        (
            'groups = "feat"',
            "error: groups in [tool.barycenter.release] must be a table of heading = [commit "
            'types]: write [tool.barycenter.release.groups] then "Features" = ["feat"]',
        ),
        (
            'floating-tags = "false"',
            "error: floating-tags in [tool.barycenter.release] is 'false', not a boolean: "
            "write floating-tags = true or false",
        ),
        (
            'platforms = "linux/amd64"',
            "error: platforms in [tool.barycenter.release] is 'linux/amd64', not a list of "
            'strings: write platforms = ["..."], e.g. platforms = ["linux/amd64", '
            '"linux/arm64"]',
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_key(
    project: Project, setting: str, message: str
) -> None:
    pyproject = project.work / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + setting + "\n")
    project.git("commit", "-qam", "ci: a bad setting")
    project.push("main")
    assert refused(project, "release.prepare", "--version", "1.0.0") == [message]


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("[package\nname = 'x'\n", "error: Cargo.toml cannot be read ("),
        ('[package]\nname = "barycenter"\nversion = "1.0"\n', "error: Cargo.toml's version"),
    ],
)
def test_an_unreadable_manifest_is_one_line(project: Project, manifest: str, message: str) -> None:
    commit_files(project, "chore: a broken manifest", **{"Cargo.toml": manifest.encode()})
    lines = refused(project, "release.prepare", "--version", "1.0.0")
    assert any(line.startswith(message) for line in lines), lines


def test_a_repository_without_commits_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", "-b", "main", str(empty))
    (empty / "pyproject.toml").write_text("[tool.barycenter.release]\n")
    result = subprocess.run(
        [*invoke_argv(empty), "release.prepare", "--version", "1.0.0", "--repo", str(empty)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 1 and all(line.startswith("error: ") for line in lines), lines
    assert "Traceback" not in result.stderr
    assert git(empty, "status", "--porcelain") == "?? pyproject.toml"


def invoke_argv(repo: Path) -> list[str]:
    """The task line without --repo (each test adds its own)."""
    del repo
    return project_argv_root()


def test_a_changelog_output_in_a_missing_directory_is_one_line(project: Project) -> None:
    result = project.invoke("release.changelog", "--output", "no/such/dir/CHANGELOG.md")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_repo_may_name_a_subdirectory_of_the_repository(project: Project) -> None:
    result = project.invoke("release.notes")
    inside = subprocess.run(
        [*project_argv(project), "release.notes", "--repo", str(project.work / "src")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout == result.stdout


def project_argv(project: Project) -> list[str]:
    del project
    return project_argv_root()


def project_argv_root() -> list[str]:
    import sys

    from tests.gitrepos import REPO_ROOT

    return [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT)]


def test_a_hotfix_below_a_newer_patch_of_its_line_is_refused(project: Project) -> None:
    for version in ("1.0.0", "1.0.2"):
        project.commit(f"fix: before {version}")
        project.push("main")
        assert project.invoke("release.prepare", "--version", version).returncode == 0
        assert project.invoke("release.tag", "--version", version).returncode == 0
    assert refused(project, "hotfix", "1.0.1", "--force") == [
        "error: 1.0 already has release 1.0.2, above 1.0.1: hotfix the line's next patch, 1.0.3"
    ]


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
            *project_argv(project),
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
    import time

    time.sleep(1.5)
    second = project.invoke("release.prepare", "--version", "1.0.0")
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert second.stderr.startswith("error: another release run (pid ")
    assert project.git("log", "--format=%s").splitlines().count("chore(release): v1.0.0") == 1


def test_a_missing_remote_is_one_line_with_gits_reason(project: Project) -> None:
    project.git("remote", "set-url", "origin", "/nonexistent/barycenter.git")
    lines = refused(project, "release.prepare", "--version", "1.0.0")
    assert lines == [
        "error: cannot read remote 'origin' ('/nonexistent/barycenter.git' does not appear to "
        "be a git repository): check that 'origin' is reachable: git ls-remote origin"
    ]


def test_a_manifest_that_is_a_symlink_is_refused(project: Project) -> None:
    real = project.work / "real-Cargo.toml"
    real.write_bytes((project.work / "Cargo.toml").read_bytes())
    (project.work / "Cargo.toml").unlink()
    (project.work / "Cargo.toml").symlink_to("real-Cargo.toml")
    project.git("add", "-A")
    project.git("commit", "-q", "-m", "chore: the manifest as a link")
    project.push("main")
    assert refused(project, "release.prepare", "--version", "1.0.0") == [
        "error: Cargo.toml is a symbolic link: make it a regular file "
        "(the release commit rewrites it)"
    ]
