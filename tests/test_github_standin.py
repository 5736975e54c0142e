"""The GitHub stand-in holds to GitHub's description, and the adapter reads it as GitHub."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import github_standin, openapi_description
from devstack.github_standin import API_PREFIX, OPERATIONS, GitHubStandIn, StoredRelease
from release.errors import ReleaseError
from release.github import GitHubClient
from tests import github_support
from tests.github_support import FAST, REPOSITORY

pytestmark = pytest.mark.github

standin = github_support.standin_fixture()


def client(standin: GitHubStandIn) -> GitHubClient:
    return GitHubClient.from_environment(REPOSITORY, standin.api_url, retry=FAST)


def test_the_subset_holds_the_served_operations_and_everything_they_reference() -> None:
    document = openapi_description.subset_cached(OPERATIONS)
    served = sorted(
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    )
    assert served == sorted(OPERATIONS)
    for reference in set(openapi_description.references(document)):
        kind, name = reference.split("/")[2:4]
        assert name in document["components"][kind], reference
    assert document["info"]["version"] == openapi_description.VERSION
    assert github_standin.validator_build_seconds < 10


def test_a_request_off_the_description_is_answered_500_and_recorded(
    standin: GitHubStandIn,
) -> None:
    url = f"{standin.api_url}/repos/{REPOSITORY}/releases"
    headers = {"Authorization": f"token {standin.token}"}
    answer = httpx.post(url, json={"name": "no tag_name"}, headers=headers)
    assert answer.status_code == 500
    assert answer.json()["message"].startswith("request repos/create-release: ")
    unserved = httpx.get(f"{standin.api_url}/repos/{REPOSITORY}/tags", headers=headers)
    assert unserved.status_code == 404
    assert len(standin.mismatches) == 2
    assert "InvalidRequestBody" in standin.mismatches[0]
    assert standin.mismatches[1] == (
        f"GET {API_PREFIX}/repos/{REPOSITORY}/tags: a route the stand-in does not serve"
    )
    assert standin.release_documents() == []
    standin.mismatches.clear()


def test_a_response_off_the_description_is_answered_500_and_recorded(
    standin: GitHubStandIn,
) -> None:
    class Drifted(GitHubStandIn):
        def release_json(self, release: StoredRelease) -> dict[str, Any]:
            document = super().release_json(release)
            del document["upload_url"]
            return document

    with Drifted(REPOSITORY, standin.token) as drifted:
        with pytest.raises(ReleaseError) as failure:
            client(drifted).create_release("v1.0.0", "v1.0.0", "notes", False)
        assert str(failure.value).startswith("GitHub failed ")
        assert drifted.mismatches[0] == (
            "response repos/create-release 201: InvalidData: 'upload_url' is a required property"
        )


def test_drafts_are_listed_but_not_found_by_tag_and_do_not_reserve_it(
    standin: GitHubStandIn,
) -> None:
    github = client(standin)
    first = github.create_release("v1.0.0", "v1.0.0", "", False)
    second = github.create_release("v1.0.0", "v1.0.0", "", False)
    assert first.id != second.id and first.draft and second.draft
    by_tag = httpx.get(
        f"{standin.api_url}/repos/{REPOSITORY}/releases/tags/v1.0.0",
        headers={"Authorization": f"token {standin.token}"},
    )
    assert by_tag.status_code == 404
    found = github.find_release("v1.0.0")
    assert found is not None and found.id == second.id
    github.update_release(second.id, draft=False, make_latest="true")
    with pytest.raises(ReleaseError) as refused:
        github.create_release("v1.0.0", "v1.0.0", "", False)
    assert str(refused.value) == (
        "GitHub refused creating the release v1.0.0 (422 Validation Failed (already_exists)): "
        "GitHub refused the request's content; fix what it names and run again"
    )


def test_releases_are_read_page_by_page(standin: GitHubStandIn) -> None:
    github = client(standin)
    with github:
        for number in range(101):
            github.create_release(f"v0.0.{number}", f"v0.0.{number}", "", False)
        assert len(github.releases()) == 101
        oldest = github.find_release("v0.0.0")
    assert oldest is not None
    pages = [c.path for c in standin.calls_to("repos/list-releases")]
    assert pages[-2:] == [
        f"{API_PREFIX}/repos/{REPOSITORY}/releases?per_page=100&page=1",
        f"{API_PREFIX}/repos/{REPOSITORY}/releases?per_page=100&page=2",
    ]


def test_a_dropped_upload_leaves_a_partial_asset_that_the_retry_replaces(
    standin: GitHubStandIn, tmp_path: Path
) -> None:
    github = client(standin)
    release = github.create_release("v1.0.0", "v1.0.0", "", False)
    path = tmp_path / "barycenter-v1.0.0-linux-amd64.tar.gz"
    data = github_support.archive("amd64", 64_000)
    path.write_bytes(data)
    standin.drop("repos/upload-release-asset", 1, after_bytes=4096)
    asset = github.upload_asset(release, path)
    assert (asset.name, asset.size, asset.digest, asset.state) == (
        path.name,
        len(data),
        github_support.sha256(data),
        "uploaded",
    )
    assert [a.id for a in github.assets(release.id)] == [asset.id]
    assert [c.operation for c in standin.calls] == [
        "repos/create-release",
        "repos/upload-release-asset",
        "repos/list-release-assets",
        "repos/delete-release-asset",
        "repos/upload-release-asset",
        "repos/list-release-assets",
    ]


def test_workflow_runs_for_ci(standin: GitHubStandIn) -> None:
    sha = "3f786850e387550fdab836ed7e6dc881de23001b"
    release_run = standin.add_workflow_run(
        "release.yml",
        sha,
        head_branch="v1.2.0",
        status="in_progress",
        conclusion=None,
        jobs=[
            ("build (linux/amd64)", "completed", "success"),
            ("build (linux/arm64)", "in_progress", None),
        ],
    )
    ci_run = standin.add_workflow_run("ci.yml", sha, head_branch="main")
    standin.add_workflow_run("release.yml", "0" * 40, head_branch="v1.1.0")
    github = client(standin)
    runs = github.workflow_runs("release.yml", head_sha=sha)
    assert [(r.id, r.status, r.conclusion, r.path) for r in runs] == [
        (release_run, "in_progress", None, ".github/workflows/release.yml")
    ]
    assert [r.id for r in github.runs_for_commit(sha)] == [ci_run, release_run]
    assert github.workflow_run(ci_run).conclusion == "success"
    jobs = github.run_jobs(release_run)
    assert [(j.name, j.status, j.conclusion) for j in jobs] == [
        ("build (linux/amd64)", "completed", "success"),
        ("build (linux/arm64)", "in_progress", None),
    ]


def test_a_release_as_the_stand_in_serves_it(standin: GitHubStandIn, tmp_path: Path) -> None:
    github = client(standin)
    release = github.create_release("v1.2.0", "v1.2.0", "## What's Changed\n", False)
    path = tmp_path / "SHA256SUMS"
    path.write_text("0" * 64 + "  barycenter-v1.2.0-linux-amd64.tar.gz\n")
    github.upload_asset(release, path)
    github.update_release(release.id, draft=False, make_latest="true")
    [document] = standin.release_documents()
    (tmp_path / "release.json").write_text(json.dumps(document, indent=2))
    assert document["upload_url"] == (
        f"{standin.base}/api/uploads/repos/{REPOSITORY}/releases/{release.id}/assets{{?name,label}}"
    )
    assert [(a["name"], a["size"], a["state"]) for a in document["assets"]] == [
        ("SHA256SUMS", 103, "uploaded")
    ]


def test_production_code_never_imports_the_stand_in() -> None:
    root = Path(__file__).resolve().parent.parent / "release"
    importing = [
        str(path.relative_to(root.parent))
        for path in sorted(root.rglob("*.py"))
        if "github_standin" in path.read_text() or "openapi_description" in path.read_text()
    ]
    assert importing == []


def test_latency_delays_the_answer_of_the_chosen_call(standin: GitHubStandIn) -> None:
    github = client(standin)
    standin.latency("repos/list-releases", 0.4, call=2)
    timings = []
    for _ in range(3):
        started = time.monotonic()
        assert github.releases() == []
        timings.append(time.monotonic() - started)
    assert timings[1] >= 0.4 > max(timings[0], timings[2])


def test_consumers_download_assets_and_read_the_latest_release_as_from_github(
    standin: GitHubStandIn, tmp_path: Path
) -> None:
    """What a consumer does: the latest release, then each asset through the API with
    `Accept: application/octet-stream` (302 to its bytes) and through browser_download_url."""
    github = client(standin)
    auth = {"Authorization": f"token {standin.token}"}
    api = f"{standin.api_url}/repos/{REPOSITORY}"
    assert httpx.get(f"{api}/releases/latest", headers=auth).status_code == 404
    release = github.create_release("v1.0.0", "v1.0.0", "", False)
    path = tmp_path / "barycenter-v1.0.0-linux-amd64.tar.gz"
    data = github_support.archive("amd64", 64_000)
    path.write_bytes(data)
    asset = github.upload_asset(release, path)
    described = httpx.get(f"{api}/releases/assets/{asset.id}", headers=auth)
    assert described.status_code == 200
    document = described.json()
    assert (document["name"], document["size"]) == (path.name, len(data))
    # A draft: no latest release, and no public download.
    assert httpx.get(f"{api}/releases/latest", headers=auth).status_code == 404
    assert httpx.get(document["browser_download_url"]).status_code == 404
    github.update_release(release.id, draft=False, make_latest="true")
    latest = httpx.get(f"{api}/releases/latest", headers=auth)
    assert (latest.status_code, latest.json()["tag_name"]) == (200, "v1.0.0")

    octets = {**auth, "Accept": "application/octet-stream"}
    redirected = httpx.get(f"{api}/releases/assets/{asset.id}", headers=octets)
    assert redirected.status_code == 302
    location = redirected.headers["location"]
    assert location.startswith(standin.base + "/")
    assert not location.startswith(standin.api_url)
    followed = httpx.get(f"{api}/releases/assets/{asset.id}", headers=octets, follow_redirects=True)
    assert (followed.status_code, followed.content) == (200, data)
    browser = httpx.get(document["browser_download_url"])
    assert (browser.status_code, browser.headers["location"]) == (302, location)
    downloaded = httpx.get(document["browser_download_url"], follow_redirects=True)
    assert (downloaded.status_code, downloaded.content) == (200, data)
    missing = httpx.get(document["browser_download_url"].replace("amd64", "arm64"))
    assert missing.status_code == 404
    # The API's answers, 302s included, held to the description; the web downloads are not
    # API routes.
    assert [c.status for c in standin.calls_to("repos/get-release-asset")] == [200, 302, 302]
    assert [c.status for c in standin.calls_to("repos/get-latest-release")] == [404, 404, 200]
    assert standin.mismatches == []
