"""How a rehearsal's sandbox follows the checkout, on real repositories (no stack needed).

The sandbox's origin starts at the checkout's HEAD. Later runs take the checkout's new
commits into the sandbox's main, unless a release there is unfinished (it is finished first)
or the run is a dry run; a checkout that went back or elsewhere is refused naming --fresh.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devstack import rehearsal
from devstack.github_pulls import protect
from devstack.paths import StackPaths
from release.errors import ReleaseError
from tests.gitrepos import CARGO_LOCK, CARGO_TOML, CHANGELOG, configure_identity, git

pytestmark = pytest.mark.repo


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    path = tmp_path / "checkout"
    git(tmp_path, "init", "-q", "-b", "feature", str(path))
    configure_identity(path)
    (path / "Cargo.toml").write_text(CARGO_TOML.format(version="0.1.0"))
    (path / "Cargo.lock").write_text(CARGO_LOCK.format(version="0.1.0"))
    (path / "CHANGELOG.md").write_text(CHANGELOG)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "feat: the first")
    # A stale local develop, which a bare clone would copy.
    git(path, "branch", "develop")
    git(path, "commit", "-q", "--allow-empty", "-m", "fix: the second")
    return path


@pytest.fixture
def sandbox(checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> rehearsal.Sandbox:
    monkeypatch.setenv("BARYCENTER_REHEARSAL_DIR", str(tmp_path / "sandbox"))
    made = rehearsal.make_sandbox(checkout, StackPaths(tmp_path / "stack"), fresh=False)
    configure_identity(made.work)
    return made


def commit(repo: Path, message: str) -> str:
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def release_in(sandbox: rehearsal.Sandbox, version: str) -> None:
    """What a finished release leaves: a release commit and its annotated tag, pushed."""
    work = sandbox.work
    git(work, "switch", "-q", "main")
    (work / "Cargo.toml").write_text(CARGO_TOML.format(version=version))
    git(work, "commit", "-q", "--allow-empty", "-am", f"chore(release): v{version}")
    git(work, "tag", "-a", "-m", f"v{version}", f"v{version}")
    git(work, "push", "-q", "--follow-tags", "origin", "main")


def test_a_new_sandbox_starts_at_the_checkouts_head(
    checkout: Path, sandbox: rehearsal.Sandbox
) -> None:
    head = git(checkout, "rev-parse", "HEAD")
    assert git(sandbox.origin, "rev-parse", "main") == head
    assert git(sandbox.origin, "rev-parse", "develop") == head
    assert git(sandbox.origin, "rev-parse", rehearsal.CHECKOUT_REF) == head


def test_new_commits_come_in_once(checkout: Path, sandbox: rehearsal.Sandbox) -> None:
    release_in(sandbox, "0.1.0")
    said: list[str] = []
    new = commit(checkout, "feat: after the release")

    assert rehearsal.take_in_checkout(checkout, sandbox, False, said.append) == 1
    assert said == ["rehearsal: took 1 new commit(s) of the checkout into the sandbox's main"]
    main = git(sandbox.origin, "rev-parse", "main")
    assert git(sandbox.origin, "log", "-1", "--format=%s", main) == (
        f"Merge the checkout's {new[:12]} (rehearsal)"
    )
    assert git(sandbox.origin, "rev-parse", rehearsal.CHECKOUT_REF) == new
    assert rehearsal.default_version(sandbox.work) == "0.2.0"
    # Nothing new again: nothing happens.
    assert rehearsal.take_in_checkout(checkout, sandbox, False, said.append) == 0
    assert git(sandbox.origin, "rev-parse", "main") == main


def test_new_commits_come_in_on_a_protected_main_that_a_merged_pull_request_moved(
    checkout: Path, sandbox: rehearsal.Sandbox
) -> None:
    """Through pull requests (release-via = "pull-request") the origin's main moves by the
    reviewer's merge, not by the sandbox clone's push, and refuses direct pushes: the take-in
    brings the clone's main up to it and still gets in."""
    reviewer = git(sandbox.origin, "rev-parse", "main")
    merged = git(
        sandbox.origin, "commit-tree", "-p", reviewer, "-m", "chore(release): v0.1.0 (#1)",
        f"{reviewer}^{{tree}}",
    )  # fmt: skip
    git(sandbox.origin, "update-ref", "refs/heads/main", merged)
    protect(sandbox.origin, "main", "develop")
    new = commit(checkout, "feat: after the merged pull request")

    assert rehearsal.take_in_checkout(checkout, sandbox, False, lambda _: None) == 1
    main = git(sandbox.origin, "rev-parse", "main")
    assert git(sandbox.origin, "rev-parse", f"{main}^1") == merged
    assert git(sandbox.origin, "rev-parse", f"{main}^2") == new
    refused = subprocess.run(
        ["git", "push", "-q", "origin", f"{main}:refs/heads/develop"],
        cwd=sandbox.work, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "GH006: Protected branch update failed" in refused.stderr


@pytest.mark.parametrize(
    ("move", "message"),
    [
        (
            "reset",
            "the checkout's HEAD {head} is behind the commit the sandbox rehearsed ({taken}): "
            "the sandbox's releases hold commits the checkout no longer has",
        ),
        (
            "rewrite",
            "the sandbox rehearsed checkout commit {taken}, and the checkout's HEAD {head} does "
            "not descend from it (history rewritten, or another branch)",
        ),
    ],
)
def test_a_checkout_that_went_back_or_elsewhere_is_refused(
    checkout: Path, sandbox: rehearsal.Sandbox, move: str, message: str
) -> None:
    taken = git(checkout, "rev-parse", "HEAD")
    git(checkout, "reset", "-q", "--hard", "HEAD~1")
    if move == "rewrite":
        commit(checkout, "feat: another second")
    head = git(checkout, "rev-parse", "HEAD")
    before = refs(sandbox.origin), refs(sandbox.work)

    with pytest.raises(ReleaseError) as refusal:
        rehearsal.take_in_checkout(checkout, sandbox, False, print)

    assert str(refusal.value) == (
        message.format(head=head[:12], taken=taken[:12])
        + ": start a new sandbox: invoke release --rehearsal --fresh"
    )
    assert (refs(sandbox.origin), refs(sandbox.work)) == before


def test_an_unfinished_release_is_finished_before_new_commits_come_in(
    checkout: Path, sandbox: rehearsal.Sandbox
) -> None:
    release_in(sandbox, "0.1.0")
    (sandbox.root / rehearsal.PENDING).write_text("0.1.0\n")
    commit(checkout, "feat: while the release was stopped")
    before = refs(sandbox.origin)
    said: list[str] = []

    assert rehearsal.take_in_checkout(checkout, sandbox, False, said.append) == 0

    assert said == [
        "rehearsal: the sandbox's release of 0.1.0 was interrupted and is finished first; "
        "the checkout's 1 new commit(s) come in on the next rehearsal"
    ]
    assert refs(sandbox.origin) == before
    assert rehearsal.pending_release(sandbox) == "0.1.0"


def test_a_dry_run_takes_nothing_in_and_says_what_would_come(
    checkout: Path, sandbox: rehearsal.Sandbox
) -> None:
    commit(checkout, "feat: one")
    commit(checkout, "feat: two")
    before = refs(sandbox.origin)
    said: list[str] = []

    assert rehearsal.take_in_checkout(checkout, sandbox, True, said.append) == 0

    assert said == [
        "rehearsal: a dry run takes in nothing: the checkout's 2 new commit(s) would come in, "
        "and the plan below is the sandbox as it stands"
    ]
    assert refs(sandbox.origin) == before


def test_a_take_in_stopped_before_its_push_is_pushed_by_the_rerun(
    checkout: Path, sandbox: rehearsal.Sandbox
) -> None:
    new = commit(checkout, "feat: new")
    git(sandbox.work, "fetch", "-q", str(checkout), new)
    git(
        sandbox.work,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        f"Merge the checkout's {new[:12]} (rehearsal)",
        new,
    )
    merged = git(sandbox.work, "rev-parse", "HEAD")

    assert rehearsal.take_in_checkout(checkout, sandbox, False, print) == 0

    assert git(sandbox.origin, "rev-parse", "main") == merged
    assert git(sandbox.origin, "rev-parse", rehearsal.CHECKOUT_REF) == new


def test_a_checkout_without_a_commit_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    with pytest.raises(ReleaseError) as refusal:
        rehearsal.checkout_state(empty)
    assert str(refusal.value).startswith(f"{empty} is not a git checkout with a commit (")
    assert str(refusal.value).endswith(
        ": pass --repo with the checkout to rehearse; its HEAD is what is released"
    )


@pytest.mark.parametrize(
    ("released", "cargo", "new_commits", "expected"),
    [
        ([], "0.1.0", 0, "0.1.0"),
        (["0.1.0"], "0.1.0", 0, "0.1.0"),
        (["0.1.0"], "0.1.0", 1, "0.2.0"),
        # After a pre-release, new commits make its next counter, as `invoke release` says.
        (["1.2.0-rc.1"], "1.2.0-rc.1", 1, "1.2.0-rc.2"),
        (["1.2.0-rc.1"], "1.2.0-rc.1", 0, "1.2.0-rc.1"),
    ],
)
def test_the_default_version_follows_the_sandbox(
    sandbox: rehearsal.Sandbox,
    released: list[str],
    cargo: str,
    new_commits: int,
    expected: str,
) -> None:
    for version in released:
        release_in(sandbox, version)
    if not released:
        (sandbox.work / "Cargo.toml").write_text(CARGO_TOML.format(version=cargo))
        git(sandbox.work, "commit", "-q", "--allow-empty", "-am", "chore: set the version")
    for number in range(new_commits):
        commit(sandbox.work, f"feat: number {number}")
    assert rehearsal.default_version(sandbox.work) == expected
