"""A release through pull requests, end to end on the stack (issue 23): main and develop
protected on the origin as GitHub protects them, release-via = "pull-request", the GitHub
stand-in merging each pull request into the origin by each merge method (squash and rebase give
the release commit a new id). `invoke release` proposes, waits, tags the commit the merge put on
main, proposes the merge into develop, waits again, then builds, publishes, attests, makes the
GitHub release and verifies it green. A hotfix then reaches main and develop the same way, by
the same merge method (into develop a rebase cannot replay the merge that resolved the version
files, so a reviewer merges that one), and is built, published and verified green too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.github_pulls import protect
from devstack.github_standin import GitHubStandIn
from release import registry
from tests.gitrepos import git
from tests.release_sandbox import ReleaseSandbox, make_sandbox, new_token

VERSION = "0.3.0"
TAG = f"v{VERSION}"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[ReleaseSandbox]:
    token = new_token()
    origin = tmp_path / "origin.git"
    origin.mkdir()  # make_sandbox clones into it; the stand-in merges there
    with GitHubStandIn("barycenter-oidc/barycenter", token, origin=origin) as standin:
        made = make_sandbox(tmp_path, standin, token, develop=True)
        with made.overrides.open("a") as overrides:
            overrides.write('release-via = "pull-request"\n')
        protect(made.origin, "main", "develop")
        yield made
        assert standin.mismatches == [], "requests or responses off GitHub's description"


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_a_release_then_a_hotfix_merged_by_pull_requests_are_tagged_built_and_verified(
    sandbox: ReleaseSandbox, method: str
) -> None:
    released_by_pull_requests(sandbox, method)
    hotfixed_by_pull_requests(sandbox, method)


def released_by_pull_requests(sandbox: ReleaseSandbox, method: str) -> None:
    standin = sandbox.standin
    proposed = sandbox.invoke("release", "--version", VERSION)
    assert proposed.returncode == 0, proposed.stdout + proposed.stderr
    assert last_line(proposed.stdout) == "waiting for pull request #1"
    assert git(sandbox.origin, "tag", "-l") == ""
    assert registry.manifest(f"{sandbox.image}:{TAG}") is None

    proposal = git(sandbox.origin, "rev-parse", f"release/{TAG}")
    standin.merge_pull(1, method)
    main = git(sandbox.origin, "rev-parse", "main")
    # The release commit as main has it: its own id under a merge commit, a new one otherwise.
    release_commit = proposal if method == "merge" else main

    tagged = sandbox.invoke("release", "--version", VERSION)
    assert tagged.returncode == 0, tagged.stdout + tagged.stderr
    assert last_line(tagged.stdout) == "waiting for pull request #2"
    assert git(sandbox.origin, "rev-parse", f"{TAG}^{{commit}}") == release_commit
    assert "- build:" not in tagged.stdout  # the develop pull request comes first

    standin.merge_pull(2, method)
    released = sandbox.invoke("release", "--version", VERSION)
    assert released.returncode == 0, released.stdout + released.stderr
    for step in ("build", "publish", "attest", "github"):
        assert f"  {step}: done in" in released.stdout, released.stdout
    assert "= verify: already done (every check passes)" in released.stdout

    states = sandbox.states(VERSION)
    assert states.pop("push-develop") == "does not apply"  # develop takes a pull request
    assert states == {step: "done" for step in states}, states
    verified = sandbox.invoke("release.verify", "--version", VERSION)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    index = registry.manifest(f"{sandbox.image}:{TAG}")
    assert index is not None
    [release] = standin.releases.values()
    assert (release.tag_name, release.draft) == (TAG, False)
    # main moved only by the merge; develop holds the release's content after its rebase.
    assert git(sandbox.origin, "rev-parse", "main") == main
    develop = git(sandbox.origin, "rev-parse", "develop")
    assert f'version = "{VERSION}"' in git(sandbox.origin, "show", f"{develop}:Cargo.toml")
    assert f"## [{VERSION}]" in git(sandbox.origin, "show", f"{develop}:CHANGELOG.md")


def merged_and_rerun(sandbox: ReleaseSandbox, number: int, method: str, *task: str) -> str:
    """The reviewer merges pull request NUMBER by METHOD; the maintainer reruns TASK; its
    output."""
    sandbox.standin.merge_pull(number, method)
    rerun = sandbox.invoke(*task)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    return rerun.stdout


def hotfixed_by_pull_requests(sandbox: ReleaseSandbox, method: str) -> None:
    started = sandbox.invoke("hotfix", "0.3.1")
    assert started.returncode == 0, started.stdout + started.stderr
    git(sandbox.work, "commit", "-q", "--allow-empty", "-m", "fix: refuse reused codes (#51)")
    finish = ("hotfix.finish", "--version", "0.3.1")
    proposed = sandbox.invoke(*finish)
    assert proposed.returncode == 0, proposed.stdout + proposed.stderr
    assert last_line(proposed.stdout) == "waiting for pull request #3"
    assert sandbox.standin.pulls[3].head == "hotfix/0.3.1"

    proposal = git(sandbox.origin, "rev-parse", "hotfix/0.3.1")
    tagged = merged_and_rerun(sandbox, 3, method, *finish)
    assert last_line(tagged) == "waiting for pull request #4"
    main = git(sandbox.origin, "rev-parse", "main")
    # The hotfix's release commit as main has it: its own id under a merge commit, else new.
    commit = proposal if method == "merge" else main
    assert git(sandbox.origin, "rev-parse", "v0.3.1^{commit}") == commit
    finished = merged_and_rerun(sandbox, 4, "merge" if method == "rebase" else method, *finish)
    assert "  develop-merged: done in" in finished

    # The tag's workflow part, run here.
    built = sandbox.invoke("release", "--version", "0.3.1")
    assert built.returncode == 0, built.stdout + built.stderr
    assert "= verify: already done (every check passes)" in built.stdout
    verified = sandbox.invoke("release.verify", "--version", "0.3.1")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    latest = registry.manifest(f"{sandbox.image}:latest")
    hotfix = registry.manifest(f"{sandbox.image}:v0.3.1")
    assert latest is not None and hotfix is not None and latest["digest"] == hotfix["digest"]
    assert sorted(r.tag_name for r in sandbox.standin.releases.values()) == ["v0.3.0", "v0.3.1"]
    assert git(sandbox.origin, "branch", "--list", "hotfix/*") == ""
    develop = git(sandbox.origin, "rev-parse", "develop")
    assert "## [0.3.1]" in git(sandbox.origin, "show", f"{develop}:CHANGELOG.md")
