"""`invoke release --ci` follows the tag's release.yml run through the Actions API, on the
GitHub stand-in: the run's URL, each job's state as it changes, the run's conclusion."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from devstack.github_standin import GitHubStandIn
from release.errors import ReleaseError
from release.github import GitHubClient
from release.workflow_watch import follow
from tests import github_support
from tests.github_support import History, config, plan_for
from tests.workflow_run import RELEASE_YML, job_names

pytestmark = pytest.mark.github
standin = github_support.standin_fixture()


def client_for(standin: GitHubStandIn) -> GitHubClient:
    return GitHubClient.from_environment(
        github_support.REPOSITORY, standin.api_url, lambda line: None, github_support.FAST
    )


def finish_later(standin: GitHubStandIn, run_id: int, conclusion: str) -> threading.Timer:
    def finish() -> None:
        for job in standin.runs[run_id].jobs:
            standin.update_job(run_id, job.name, "completed", conclusion)
        standin.update_run(run_id, "completed", conclusion)

    # Late enough that the first poll (the client's start-up included) sees the run going.
    timer = threading.Timer(2.0, finish)
    timer.start()
    return timer


@pytest.mark.parametrize("conclusion", ["success", "failure"])
def test_the_run_is_followed_to_its_conclusion(
    standin: GitHubStandIn, tmp_path: Path, conclusion: str
) -> None:
    history = History(tmp_path / "repo")
    history.tag("1.0.0", "feat: first")
    plan = plan_for(history, "1.0.0", config(history.root, standin.api_url))
    commit = github_support.git(history.root, "rev-parse", "v1.0.0^{commit}")
    standin.add_workflow_run("ci.yml", commit, status="completed", conclusion="success")
    # The jobs as GitHub names them from release.yml: `name:`, matrix filled in.
    names = job_names(RELEASE_YML.read_text())
    assert names == [
        "The tag is a release version",
        "Build linux/amd64",
        "Build linux/arm64",
        "Publish the multi-arch index",
        "Attest the build provenance (keyless)",
        "GitHub release",
        "Verify the published release",
    ]
    run_id = standin.add_workflow_run(
        "release.yml",
        commit,
        head_branch="v1.0.0",
        status="in_progress",
        conclusion=None,
        jobs=[(name, "in_progress" if at < 3 else "queued", None) for at, name in enumerate(names)],
    )
    said: list[str] = []
    timer = finish_later(standin, run_id, conclusion)
    try:
        with client_for(standin) as client:
            if conclusion == "success":
                follow(plan, said.append, client, poll=0.05)
            else:
                with pytest.raises(ReleaseError) as failed:
                    follow(plan, said.append, client, poll=0.05)
                assert str(failed.value).startswith(
                    "the release workflow run of v1.0.0 ended failure: "
                )
    finally:
        timer.cancel()
    assert said[0] == f"waiting for the release.yml run of v1.0.0 ({commit[:12]})"
    assert said[1].startswith(f"run {run_id}: http")
    assert "  Build linux/arm64: in_progress" in said
    assert "  Publish the multi-arch index: queued" in said
    for name in names:
        assert f"  {name}: completed ({conclusion})" in said
    assert (said[-1] == f"run {run_id} succeeded") == (conclusion == "success")


def test_no_run_for_the_tag_is_an_error_after_the_wait(
    standin: GitHubStandIn, tmp_path: Path
) -> None:
    history = History(tmp_path / "repo")
    history.tag("1.0.0", "feat: first")
    plan = plan_for(history, "1.0.0", config(history.root, standin.api_url))
    with client_for(standin) as client, pytest.raises(ReleaseError) as missing:
        follow(plan, lambda line: None, client, poll=0.01, appear_within=0.05)
    assert str(missing.value) == (
        "no release.yml run started for v1.0.0 within 0 s: check the workflow's tag filter and "
        "that Actions is enabled"
    )
