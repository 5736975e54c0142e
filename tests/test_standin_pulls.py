"""Pull requests on the GitHub stand-in are merged for real into the bare origin, the three
ways GitHub's merge button does, and refused as GitHub refuses: a conflict (405), a head that
moved since it was reviewed (409), a head branch that is not on the origin (422)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from devstack.github_standin import GitHubStandIn
from tests.github_support import REPOSITORY, gh, gh_target_fixture, git

pytestmark = pytest.mark.github

gh_target = gh_target_fixture()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare origin: main with one commit, release/v1.0.0 one release commit ahead."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for key, value in (("user.name", "Maintainer"), ("user.email", "m@example.com")):
        git(work, "config", key, value)
    (work / "Cargo.toml").write_text('version = "0.9.0"\n')
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "feat: first")
    git(work, "checkout", "-q", "-b", "release/v1.0.0")
    (work / "Cargo.toml").write_text('version = "1.0.0"\n')
    git(work, "commit", "-qam", "chore(release): v1.0.0")
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


@pytest.fixture
def standin(origin: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with GitHubStandIn(REPOSITORY, "t0ken", origin=origin) as running:
        yield running
    assert running.mismatches == []


def call(standin: GitHubStandIn, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - the stand-in's http://127.0.0.1
        f"{standin.repo_url()}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "token t0ken", "Content-Type": "application/json",
                 "Accept": "application/vnd.github+json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as failed:
        return failed.code, json.loads(failed.read() or b"null")


def open_release_pull(standin: GitHubStandIn) -> dict[str, Any]:
    status, pull = call(standin, "POST", "/pulls", {
        "title": "chore(release): v1.0.0", "head": "release/v1.0.0", "base": "main",
        "body": "## What's Changed\n\n- feat: first"})  # fmt: skip
    assert status == 201, pull
    return dict(pull)


@pytest.mark.parametrize(
    ("method", "subject", "parents"),
    [
        ("merge", "Merge pull request #1 from barycenter-oidc/release/v1.0.0", 2),
        ("squash", "chore(release): v1.0.0 (#1)", 1),
        ("rebase", "chore(release): v1.0.0", 1),
    ],
)
def test_a_release_pull_request_merged_each_way_lands_on_main(
    standin: GitHubStandIn, origin: Path, method: str, subject: str, parents: int
) -> None:
    pull = open_release_pull(standin)
    head = git(origin, "rev-parse", "release/v1.0.0")
    assert (pull["number"], pull["state"], pull["head"]["sha"], pull["mergeable"]) == (
        1, "open", head, True)  # fmt: skip
    status, merged = call(standin, "PUT", "/pulls/1/merge", {"merge_method": method, "sha": head})
    assert status == 200 and merged["merged"] is True, merged
    tip = git(origin, "rev-parse", "main")
    assert merged["sha"] == tip
    assert git(origin, "log", "-1", "--format=%s", "main") == subject
    assert len(git(origin, "log", "-1", "--format=%P", "main").split()) == parents
    assert git(origin, "show", "main:Cargo.toml") == 'version = "1.0.0"'
    assert git(origin, "log", "-1", "--format=%cn <%ce>", "main") == "GitHub <noreply@github.com>"
    # Only a true merge keeps the release commit's own id on main; squash and rebase make
    # new commits, so a release through a pull request must find its commit by content.
    kept = subprocess.run(["git", "merge-base", "--is-ancestor", head, "main"], cwd=origin)
    assert (kept.returncode == 0) == (method == "merge")
    status, after = call(standin, "GET", "/pulls/1")
    assert (after["state"], after["merged"], after["merge_commit_sha"]) == ("closed", True, tip)
    status, listed = call(standin, "GET", "/pulls?state=open")
    assert listed == []


def test_merging_is_refused_as_github_refuses_it(standin: GitHubStandIn, origin: Path) -> None:
    pull = open_release_pull(standin)
    status, stale = call(standin, "PUT", "/pulls/1/merge", {"sha": "0" * 40})
    assert status == 409 and "Head branch was modified" in stale["message"]
    # main moves on in a way that conflicts with the release commit.
    work = origin.parent / "other"
    git(origin.parent, "clone", "-q", "-b", "main", str(origin), str(work))
    (work / "Cargo.toml").write_text('version = "0.9.1"\n')
    git(work, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qam", "fix: other")
    git(work, "push", "-q", "origin", "main")
    status, got = call(standin, "GET", "/pulls/1")
    assert (got["mergeable"], got["mergeable_state"]) == (False, "dirty")
    status, refused = call(standin, "PUT", "/pulls/1/merge", {"sha": pull["head"]["sha"]})
    assert status == 405 and refused["message"] == "Pull Request is not mergeable"
    assert git(origin, "log", "-1", "--format=%s", "main") == "fix: other"
    status, missing = call(
        standin, "POST", "/pulls", {"title": "x", "head": "nope", "base": "main"}
    )
    assert status == 422 and missing["errors"][0]["field"] == "head"
    status, twice = call(standin, "POST", "/pulls", {
        "title": "again", "head": "release/v1.0.0", "base": "main"})  # fmt: skip
    assert status == 422 and "already exists" in twice["errors"][0]["message"]


def test_gh_run_view_names_the_pull_request_of_the_run_s_branch(
    standin: GitHubStandIn, gh_target: Any
) -> None:
    open_release_pull(standin)
    run_id = standin.add_workflow_run("ci.yml", "a" * 40, head_branch="release/v1.0.0")
    viewed = gh(gh_target, standin, "run", "view", str(run_id))
    assert viewed.returncode == 0, viewed.stderr
    assert "#1" in viewed.stdout, viewed.stdout


def test_a_head_that_merges_but_does_not_replay_is_refused_a_rebase_with_github_s_words(
    standin: GitHubStandIn, origin: Path
) -> None:
    """topic changes Cargo.toml and changes it back; main changes it meanwhile. As a whole it
    merges cleanly; replayed commit by commit, its first commit conflicts."""
    work = origin.parent / "topic"
    git(origin.parent, "clone", "-q", "-b", "main", str(origin), str(work))
    identity = ("-c", "user.name=x", "-c", "user.email=x@x")
    git(work, "checkout", "-q", "-b", "topic")
    for version, subject in (("0.9.5", "chore: try 0.9.5"), ("0.9.0", "revert: 0.9.0 again")):
        (work / "Cargo.toml").write_text(f'version = "{version}"\n')
        (work / "NOTES").write_text(subject + "\n")
        git(work, "add", ".")
        git(work, *identity, "commit", "-qm", subject)
    git(work, "push", "-q", "origin", "topic")
    git(work, "checkout", "-q", "main")
    (work / "Cargo.toml").write_text('version = "0.9.1"\n')
    git(work, *identity, "commit", "-qam", "fix: other")
    git(work, "push", "-q", "origin", "main")
    main = git(origin, "rev-parse", "main")
    status, pull = call(
        standin, "POST", "/pulls", {"title": "topic", "head": "topic", "base": "main"}
    )
    assert status == 201 and pull["mergeable"] is True, pull

    status, refused = call(standin, "PUT", "/pulls/1/merge", {"merge_method": "rebase"})

    assert (status, refused["message"]) == (405, "This branch can't be rebased")
    assert git(origin, "rev-parse", "main") == main
    status, got = call(standin, "GET", "/pulls/1")
    assert (got["state"], got["merged"]) == ("open", False)
    # The reviewer's other buttons still work.
    status, merged = call(standin, "PUT", "/pulls/1/merge", {"merge_method": "merge"})
    assert status == 200 and merged["merged"] is True, merged
    assert git(origin, "show", "main:Cargo.toml") == 'version = "0.9.1"'
