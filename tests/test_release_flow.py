"""release.prepare and release.tag on real repositories with a bare origin."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.gitrepos import Project, git, make_project, refused

pytestmark = pytest.mark.repo


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """main at 1.0.0 (released), one feature commit since, develop beside it."""
    project = make_project(tmp_path, version="0.1.0")
    release(project, "1.0.0", allow_empty=True)
    project.commit("feat: add device code flow (#45)")
    project.push("main")
    return project


def release(project: Project, version: str, allow_empty: bool = False) -> None:
    extra = ["--allow-empty"] if allow_empty else []
    prepared = project.invoke("release.prepare", "--version", version, *extra)
    assert prepared.returncode == 0, prepared.stderr
    tagged = project.invoke("release.tag", "--version", version)
    assert tagged.returncode == 0, tagged.stderr


def test_prepare_bumps_finalizes_and_commits_then_tag_pushes_both(project: Project) -> None:
    release(project, "1.1.0")

    assert project.version("HEAD") == "1.1.0"
    assert 'version = "1.1.0"' in project.git("show", "HEAD:Cargo.lock")
    changelog = project.git("show", "HEAD:CHANGELOG.md")
    assert "## [1.1.0] - " in changelog
    section = changelog.split("## [1.1.0] - ")[1].split("## [1.0.0]")[0]
    assert "### Features\n\n- feat: add device code flow ([#45](" in section
    assert "[1.1.0]: https://github.com/example/barycenter/compare/v1.0.0...v1.1.0" in changelog
    tag_message = project.git("tag", "-l", "--format=%(contents)", "v1.1.0")
    assert "## What's Changed" in tag_message and "feat: add device code flow" in tag_message
    assert project.git("log", "-1", "--format=%s") == "chore(release): v1.1.0"
    assert project.git("cat-file", "-t", "v1.1.0") == "tag"
    assert project.git("tag", "-l", "--format=%(contents:subject)", "v1.1.0") == "Barycenter v1.1.0"
    head = project.git("rev-parse", "HEAD")
    remote = git(project.origin, "rev-parse", "main", "v1.1.0^{commit}").splitlines()
    assert remote == [head, head]


def test_prepare_twice_converges_without_a_second_commit(project: Project) -> None:
    first = project.invoke("release.prepare", "--version", "1.1.0")
    assert first.returncode == 0, first.stderr
    head = project.git("rev-parse", "HEAD")

    again = project.invoke("release.prepare", "--version", "1.1.0")

    assert again.returncode == 0, again.stderr
    assert project.git("rev-parse", "HEAD") == head
    assert again.stdout.splitlines()[1:] == [
        "= prepare: already done (main ends with the release commit)"
    ]


def test_a_version_bumped_by_hand_is_not_bumped_again(project: Project) -> None:
    manifest = (project.work / "Cargo.toml").read_text().replace("1.0.0", "1.1.0")
    lock = (project.work / "Cargo.lock").read_text().replace("1.0.0", "1.1.0")
    project.write("Cargo.toml", manifest)
    project.write("Cargo.lock", lock)
    project.git("commit", "-qam", "chore: bump to 1.1.0 by hand")
    project.push("main")

    result = project.invoke("release.prepare", "--version", "1.1.0")

    assert result.returncode == 0, result.stderr
    assert project.git("diff", "HEAD~1", "--name-only").splitlines() == ["CHANGELOG.md"]
    assert project.git("log", "-1", "--format=%s") == "chore(release): v1.1.0"


@pytest.mark.parametrize("task", ["release.prepare", "release.tag"])
def test_dry_run_prints_the_git_actions_and_changes_nothing(project: Project, task: str) -> None:
    if task == "release.tag":
        assert project.invoke("release.prepare", "--version", "1.1.0").returncode == 0
    before = project.state()

    result = project.invoke(task, "--version", "1.1.0", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert project.state() == before
    assert "dry run" in result.stdout
    if task == "release.prepare":
        assert "would git commit -m 'chore(release): v1.1.0'" in result.stdout
    else:
        assert "would git tag -a v1.1.0" in result.stdout
        assert "would git push --atomic origin refs/heads/main refs/tags/v1.1.0" in result.stdout


def test_tag_before_prepare_is_refused(project: Project) -> None:
    lines = refused(project, "release.tag", "--version", "1.1.0")
    assert lines == [
        "error: main does not end with the release commit of 1.1.0: "
        "run invoke release.prepare --version 1.1.0 first"
    ]


REFUSALS = {
    "not SemVer": (["--version", "1.2"], "is not SemVer 2.0.0"),
    "build metadata": (["--version", "1.1.0+build.7"], "carries build metadata"),
    "shell metacharacters": (["--version", "1.1.0;reboot"], "shell metacharacters"),
    "not greater": (["--version", "0.9.0"], "is not greater than 1.0.0"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_bad_versions_are_refused_with_nothing_changed(project: Project, case: str) -> None:
    args, message = REFUSALS[case]
    lines = refused(project, "release.prepare", *args)
    assert any(message in line for line in lines), lines


def test_not_on_main_is_refused(project: Project) -> None:
    project.git("switch", "-q", "develop")
    assert refused(project, "release.prepare", "--version", "1.1.0") == [
        "error: on branch 'develop', not 'main': git switch main"
    ]


def test_detached_head_is_refused(project: Project) -> None:
    project.git("switch", "-q", "--detach", "HEAD")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert "error: HEAD is detached: git switch main" in lines


def test_uncommitted_and_untracked_files_are_refused(project: Project) -> None:
    project.write("src/new.rs", "// untracked\n")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert lines == ["error: uncommitted or untracked files (src/new.rs): commit or stash them"]


def test_every_problem_is_reported_at_once(project: Project) -> None:
    project.git("switch", "-q", "develop")
    project.write("notes.txt", "scratch\n")
    lines = refused(project, "release.prepare", "--version", "0.5.0")
    assert len(lines) >= 3
    assert any("not 'main'" in line for line in lines)
    assert any("uncommitted or untracked" in line for line in lines)
    assert any("is not greater than 1.0.0" in line for line in lines)


def test_behind_the_remote_is_refused(project: Project) -> None:
    colleague = project.clone("colleague")
    colleague.commit("fix: colleague's fix")
    colleague.push("main")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert lines == ["error: 'main' is behind origin/main: git pull --ff-only origin main"]


def test_ahead_of_the_remote_is_refused(project: Project) -> None:
    project.commit("feat: not pushed yet")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert len(lines) == 1 and "is ahead of origin/main with unpushed commits" in lines[0]


def test_diverged_from_the_remote_is_refused(project: Project) -> None:
    colleague = project.clone("colleague")
    colleague.commit("fix: colleague's fix")
    colleague.push("main")
    project.git("fetch", "-q")
    project.commit("feat: mine")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert len(lines) == 1 and "have diverged" in lines[0]


def test_a_shallow_clone_is_refused(project: Project, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{project.origin}", str(shallow))
    git(shallow, "config", "user.name", "x")
    git(shallow, "config", "user.email", "x@example.org")
    other = Project(project.origin, shallow)
    lines = refused(other, "release.prepare", "--version", "1.1.0")
    assert any("the clone is shallow" in line for line in lines)


def test_an_old_release_is_refused_and_the_newest_one_is_done(project: Project) -> None:
    release(project, "1.1.0")

    lines = refused(project, "release.prepare", "--version", "1.0.0")
    rerun = project.invoke("release.prepare", "--version", "1.1.0")

    assert lines == [
        "error: tag v1.0.0 already exists: released tags are immutable; choose the next version",
        "error: version 1.0.0 is not greater than 1.1.0, the highest release on the release "
        "branch: choose a higher version",
        "error: Cargo.toml is at 1.1.0, above 1.0.0: release a version above 1.1.0",
    ]
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.splitlines()[1:] == ["= prepare: already done (v1.1.0 exists)"]


def test_a_tag_that_exists_only_on_the_remote_is_refused(project: Project) -> None:
    colleague = project.clone("colleague")
    colleague.git("tag", "v1.1.0")
    colleague.push("v1.1.0")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    commit = project.git("rev-parse", "main")
    assert lines == [
        f"error: tag v1.1.0 on origin marks {commit[:12]}, which is not the release of 1.1.0 "
        "(a lightweight tag): delete it (git push origin :refs/tags/v1.1.0), or release "
        "another version"
    ]


def test_a_pre_release_not_above_an_existing_one_is_refused(project: Project) -> None:
    release(project, "1.1.0-rc.2")
    project.commit("fix: after rc.2")
    project.push("main")
    lines = refused(project, "release.prepare", "--version", "1.1.0-rc.1")
    assert any("1.1.0-rc.1 is not greater than" in line for line in lines)


def test_a_manifest_already_above_the_version_is_refused(project: Project) -> None:
    text = (project.work / "Cargo.toml").read_text().replace("1.0.0", "1.5.0")
    project.write("Cargo.toml", text)
    project.git("commit", "-qam", "chore: jump ahead")
    project.push("main")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert lines == ["error: Cargo.toml is at 1.5.0, above 1.1.0: release a version above 1.5.0"]


def test_nothing_since_the_previous_release_is_refused_unless_allowed(project: Project) -> None:
    release(project, "1.1.0")
    lines = refused(project, "release.prepare", "--version", "1.2.0")
    assert lines == [
        "error: no commits since v1.1.0: nothing to release (pass --allow-empty to release anyway)"
    ]
    allowed = project.invoke("release.prepare", "--version", "1.2.0", "--allow-empty")
    assert allowed.returncode == 0, allowed.stderr


def test_a_missing_git_identity_is_refused(project: Project, tmp_path: Path) -> None:
    project.git("config", "--unset", "user.name")
    project.git("config", "--unset", "user.email")
    before = project.state()
    # No global or system configuration either, as on a fresh CI runner.
    isolated = {"HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}

    result = project.invoke("release.prepare", "--version", "1.1.0", env=isolated)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: git identity is not set: "
        "git config user.name 'Your Name' && git config user.email you@example.org"
    ]
    assert project.state() == before


def test_a_colleague_pushing_meanwhile_leaves_nothing_half_done(project: Project) -> None:
    assert project.invoke("release.prepare", "--version", "1.1.0").returncode == 0
    colleague = project.clone("colleague")
    colleague.commit("fix: pushed while the release was being prepared")
    colleague.push("main")
    remote_before = git(project.origin, "for-each-ref")

    # The tag step's preflight reads the remote, so it sees the colleague's push first.
    result = project.invoke("release.tag", "--version", "1.1.0")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: origin/main has moved since the release commit was made: git reset --keep "
        "main~1 (drops the release commit), git pull --ff-only origin main, then run the "
        "release again"
    ]
    assert git(project.origin, "for-each-ref") == remote_before
    assert project.git("tag", "-l", "v1.1.0") == ""

    # Following the advice re-prepares, so the CHANGELOG and the tag's notes agree.
    project.git("reset", "-q", "--keep", "main~1")
    project.git("pull", "-q", "--ff-only", "origin", "main")
    assert project.invoke("release.prepare", "--version", "1.1.0").returncode == 0
    assert project.invoke("release.tag", "--version", "1.1.0").returncode == 0
    subject = "fix: pushed while the release was being prepared"
    assert subject in project.git("show", "v1.1.0:CHANGELOG.md")
    assert subject in project.git("tag", "-l", "--format=%(contents)", "v1.1.0")


def test_a_push_rejected_at_the_last_moment_removes_the_local_tag(project: Project) -> None:
    assert project.invoke("release.prepare", "--version", "1.1.0").returncode == 0
    colleague = project.clone("colleague")
    colleague.commit("fix: pushed between the check and the push")
    # The remote refuses the push as a colleague's would: a hook moves main under us.
    hook = project.origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f"cd {colleague.work} && git push -q origin main >/dev/null 2>&1\n"
        "echo 'main moved' >&2; exit 1\n"
    )
    hook.chmod(0o755)
    remote_before_tags = git(project.origin, "tag", "-l")

    result = project.invoke("release.tag", "--version", "1.1.0")

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    # The remote's own words, not a guess: here the hook's message and git's verdict.
    assert lines[0] == (
        "error: origin rejected the push of main and v1.1.0, so nothing was pushed (main moved; "
        "pre-receive hook declined): fix what origin says, then run the same command again"
    )
    assert git(project.origin, "tag", "-l") == remote_before_tags
    assert project.git("tag", "-l", "v1.1.0") == ""

    hook.unlink()
    recovered = project.invoke("release.tag", "--version", "1.1.0")
    assert recovered.returncode == 0, recovered.stderr
    assert git(project.origin, "rev-parse", "v1.1.0^{commit}") == project.git("rev-parse", "HEAD")


def test_sign_uses_gits_own_ssh_signing(project: Project, tmp_path: Path) -> None:
    key = tmp_path / "signing"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"release-tester@example.org {(tmp_path / 'signing.pub').read_text()}")
    project.git("config", "gpg.format", "ssh")
    project.git("config", "user.signingkey", str(key))
    project.git("config", "gpg.ssh.allowedSignersFile", str(allowed))
    assert project.invoke("release.prepare", "--version", "1.1.0").returncode == 0

    result = project.invoke("release.tag", "--version", "1.1.0", "--sign")

    assert result.returncode == 0, result.stderr
    assert "-----BEGIN SSH SIGNATURE-----" in project.git("cat-file", "-p", "v1.1.0")
    check = subprocess.run(
        ["git", "tag", "-v", "v1.1.0"],
        cwd=project.work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert 'Good "git" signature for release-tester@example.org' in check.stderr
