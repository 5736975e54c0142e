"""`invoke release` without --version, and `release.notes --bump`, on real repositories with a
bare origin: the version the commits make, shown with the commits that made it, confirmed on
a terminal, never guessed silently without one."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gitrepos import REPO_ROOT, Project, git, invoke, make_project, refused

pytestmark = pytest.mark.repo


def released(project: Project, version: str, allow_empty: bool = False) -> None:
    extra = ["--allow-empty"] if allow_empty else []
    for task, *options in (("release.prepare", *extra), ("release.tag",)):
        result = project.invoke(task, "--version", version, *options)
        assert result.returncode == 0, result.stderr


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """1.0.0 released; a fix and a feature since."""
    project = make_project(tmp_path, version="0.1.0")
    released(project, "1.0.0", allow_empty=True)
    project.commit("fix: refresh tokens expire")
    project.commit("feat: device code flow")
    project.push("main")
    return project


def bump(project: Project, *args: str) -> str:
    result = project.invoke("release.notes", "--bump", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_a_terminal_the_proposal_is_shown_and_refused_naming_the_version(
    project: Project,
) -> None:
    before = project.state()
    result = project.invoke("release")

    assert result.returncode == 1
    assert project.state() == before
    shown = result.stdout.splitlines()
    assert shown[0] == "next version: 1.1.0 (a feature; 2 commits since v1.0.0)"
    assert shown[1].endswith(" feat: device code flow")
    assert result.stderr.strip().splitlines() == [
        "error: no --version given, and no terminal to confirm 1.1.0: pass --version 1.1.0, "
        "or --yes to take the proposed version"
    ]
    # Both fixes it names plan that release (up to the tag push: this machine may lack a stack).
    for fix in (["--version", "1.1.0"], ["--yes"]):
        planned = project.invoke("release", *fix, "--ci", "--dry-run")
        assert planned.returncode == 0, planned.stderr
        assert "git tag -a v1.1.0" in planned.stdout
    assert project.state() == before


def answered(project: Project, answer: str) -> tuple[int, str]:
    """`invoke release` on a terminal, answering its question."""
    leader, follower = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k != "CI"}
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), "release", "--repo", project.work],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=environment,
    )
    os.close(follower)
    output = b""
    while b"[y/N]" not in output:
        chunk = os.read(leader, 4096)
        assert chunk, output
        output += chunk
    os.write(leader, answer.encode() + b"\n")
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal's other end closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=60), output.decode()


def test_on_a_terminal_the_proposal_is_asked_and_a_no_changes_nothing(project: Project) -> None:
    before = project.state()
    status, output = answered(project, "n")

    assert status == 1
    assert "next version: 1.1.0 (a feature; 2 commits since v1.0.0)" in output
    assert "release 1.1.0? [y/N]" in output
    assert "error: 1.1.0 not confirmed: pass --version X.Y.Z for another version" in output
    assert project.state() == before


def test_pre_releases_count_up_then_final_makes_the_stable_release(project: Project) -> None:
    assert bump(project) == "1.1.0"
    assert bump(project, "--pre", "rc") == "1.1.0-rc.1"
    released(project, "1.1.0-rc.1")
    project.commit("fix: consent screen")
    project.push("main")

    assert bump(project) == "1.1.0-rc.2"
    assert bump(project, "--pre", "rc") == "1.1.0-rc.2"
    assert bump(project, "--final") == "1.1.0"
    project.commit("feat!: drop implicit flow")
    project.push("main")
    assert bump(project, "--pre", "rc") == "2.0.0-rc.1"
    lines = refused(project, "release.notes", "--bump", "--final")
    assert lines == [
        "error: --final: the commits since v1.0.0 make 2.0.0, above the pre-release line 1.1.0: "
        "release 2.0.0-rc.1 first (--pre rc), or pass --version"
    ]


def test_below_1_0_0_a_breaking_change_makes_the_next_minor_unless_configured(
    tmp_path: Path,
) -> None:
    for reading in ("cargo", "semver"):
        (tmp_path / reading).mkdir()
    cargo_reading = make_project(tmp_path / "cargo", version="0.3.0")
    released(cargo_reading, "0.3.0", allow_empty=True)
    cargo_reading.commit("feat!: new token format")
    assert bump(cargo_reading) == "0.4.0"

    semver_reading = make_project(
        tmp_path / "semver", version="0.3.0", config='bump-breaking-below-1 = "major"\n'
    )
    released(semver_reading, "0.3.0", allow_empty=True)
    semver_reading.commit("feat!: new token format")
    assert bump(semver_reading) == "1.0.0"


def test_the_first_release_is_cargo_toml_s_version(tmp_path: Path) -> None:
    project = make_project(tmp_path, version="0.1.0")
    project.commit("feat: discovery document")
    assert bump(project) == "0.1.0"
    # A pre-release of 0.1.0 sorts below the Cargo.toml that says 0.1.0: the fix it names...
    assert refused(project, "release.notes", "--bump", "--pre", "alpha") == [
        "error: --pre alpha: Cargo.toml is at 0.1.0, above 0.1.0-alpha.1: set version = "
        '"0.1.0-alpha.1" in Cargo.toml and commit it, or leave out --pre'
    ]
    cargo = (project.work / "Cargo.toml").read_text()
    project.commit("chore: start with alpha", "Cargo.toml", cargo.replace("0.1.0", "0.1.0-alpha.1"))
    project.push("main")
    # ... works: the release it proposes plans (up to its tag push).
    assert bump(project, "--pre", "alpha") == "0.1.0-alpha.1"
    planned = project.invoke("release", "--pre", "alpha", "--yes", "--ci", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "git tag -a v0.1.0-alpha.1" in planned.stdout


def test_a_version_tagged_off_main_is_not_proposed_and_a_shallow_clone_is_refused(
    project: Project, tmp_path: Path
) -> None:
    # 1.1.0 was tagged on another branch (main never reached it): the next minor is 1.2.0.
    project.git("switch", "-q", "-c", "elsewhere")
    project.commit("feat: elsewhere")
    project.git("tag", "-a", "-m", "Barycenter v1.1.0", "v1.1.0")
    project.git("switch", "-q", "main")
    assert bump(project) == "1.2.0"

    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{project.origin}", str(shallow))
    result = invoke(shallow, "release.notes", "--bump")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {shallow} is a shallow clone, so release notes would miss the commits it "
        "lacks: run git fetch --unshallow --tags (in GitHub Actions: fetch-depth: 0 on "
        "checkout)"
    ]


# One repository for every refusal: each leaves it exactly as it was (refused() checks).
REFUSALS = [
    (
        ["release", "--version", "1.1.0", "--pre", "rc"],
        "error: --version 1.1.0 with --pre: both choose the version: pass --version alone, "
        "or --pre/--final without it",
    ),
    (
        ["release", "--pre", "rc.1", "--yes"],
        "error: pre-release label 'rc.1' is not one SemVer identifier: use letters, digits "
        "and dashes, e.g. --pre rc, --pre beta or --pre alpha",
    ),
    (
        ["release", "--final", "--yes"],
        "error: --final: there is no pre-release line to finalize (the latest release is "
        "v1.0.0): pass --pre LABEL for a pre-release, or leave out --final",
    ),
    (
        ["release.notes", "--pre", "rc"],
        "error: --pre chooses the next version: pass it with --bump, e.g. release.notes --bump "
        "--pre rc",
    ),
    (
        ["release", "--pre=", "--yes"],
        "error: pre-release label '' is not one SemVer identifier: use letters, digits and "
        "dashes, e.g. --pre rc, --pre beta or --pre alpha",
    ),
    (
        ["release", "--rehearsal", "--pre", "rc"],
        "error: --pre does not apply with --rehearsal: pass --version X.Y.Z, or leave "
        "--rehearsal out",
    ),
]


def test_a_version_choice_that_cannot_work_is_refused_with_nothing_changed(
    project: Project,
) -> None:
    for args, line in REFUSALS:
        assert refused(project, *args) == [line], args


def test_a_next_version_past_cargos_limit_is_refused_and_the_named_fix_works(
    tmp_path: Path,
) -> None:
    """A patch line at 2**64 - 1: the next patch would not fit in Cargo's 64 bits."""
    project = make_project(tmp_path, version="1.0.18446744073709551615")
    released(project, "1.0.18446744073709551615", allow_empty=True)
    project.commit("fix: one more")
    project.push("main")
    assert refused(project, "release.notes", "--bump") == [
        "error: the next release would be 1.0.18446744073709551616, which has a number above "
        "18446744073709551615 (Cargo's limit): pass the version to release yourself: "
        "--version X.Y.Z"
    ]
    notes = project.invoke("release.notes", "--version", "1.1.0")
    assert notes.returncode == 0, notes.stderr
    assert "fix: one more" in notes.stdout


def test_bump_in_a_repository_with_no_commit_says_so(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    result = invoke(root, "release.notes", "--bump")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: the repository has no commit yet: commit the project first\n"
