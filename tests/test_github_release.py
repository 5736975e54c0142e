"""The github step against the GitHub stand-in: body, prerelease, make_latest, assets, reruns
after faults at every API call, and the token kept out of every line."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from devstack.github_standin import GitHubStandIn
from release.errors import ReleaseError
from release.github import GitHubClient, RetryPolicy
from release.plan import Plan
from release.runner import problems_of
from release.steps import State
from release.steps.github import PublishGitHubRelease, expected_assets
from tests import github_support
from tests.github_support import (
    FAST,
    IMAGE,
    REPOSITORY,
    History,
    asset_table,
    config,
    expected_table,
    git,
    index_digest,
    plan_for,
    releases_of,
    step,
    write_dist,
)

pytestmark = pytest.mark.github

standin = github_support.standin_fixture()


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "barycenter")


def released(
    history: History, standin: GitHubStandIn, version: str, *subjects: str, base: str = ""
) -> tuple[Plan, dict[str, bytes]]:
    history.tag(version, *subjects, base=base or None)
    plan = plan_for(history, version, config(history.root, standin.api_url))
    return plan, write_dist(plan)


def run(plan: Plan, the_step: PublishGitHubRelease | None = None) -> list[str]:
    lines: list[str] = []
    (the_step or step()).run(plan, lines.append)
    return lines


def entry(history: History, subject: str) -> str:
    sha = git(history.root, "log", "--all", "--format=%H", "-1", f"--grep=^{subject}$")
    base = "https://github.com/barycenter-oidc/barycenter"
    return f"- {subject} ([{sha[:7]}]({base}/commit/{sha}))"


def body(history: History, plan: Plan, sections: str, compare: str) -> str:
    sums = "\n".join(
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name}"
        for name, path in sorted((p.name, p) for p in plan.dist.iterdir() if p.is_file())
    )
    return (
        f"## What's Changed\n\n{sections}\n\n"
        f"**Full Changelog**: https://github.com/barycenter-oidc/barycenter/{compare}\n\n"
        "## Container image\n\n"
        f"```\ndocker pull {IMAGE}:{plan.tag}@{index_digest(plan)}\n```\n\n"
        "Linux binaries for linux/amd64, linux/arm64 are attached, with their sha256 in "
        "SHA256SUMS.\n\n"
        "## Checksums (sha256)\n\n"
        f"```\n{sums}\n```\n"
    )


def test_a_release_line_with_a_hotfix_and_a_pre_release(
    history: History, standin: GitHubStandIn
) -> None:
    sequence = [
        ("1.0.0", ["feat: sign in with OpenID Connect"], "", False, "true", "v1.0.0"),
        ("1.1.0", ["feat(api): token introspection"], "", False, "true", "v1.1.0"),
        ("1.0.1", ["fix: refuse expired refresh tokens"], "v1.0.0", False, "false", "v1.1.0"),
        ("1.2.0-rc.1", ["feat: device flow"], "", True, "false", "v1.1.0"),
        ("1.2.0", ["fix: device flow polling interval"], "", False, "true", "v1.2.0"),
    ]
    for version, subjects, base, prerelease, latest, latest_after in sequence:
        plan, files = released(history, standin, version, *subjects, base=base)
        assert step().state(plan).state is State.TODO
        run(plan)
        assert step().state(plan).state is State.DONE
        [document] = releases_of(standin, plan.tag)
        assert (document["name"], document["draft"], document["prerelease"]) == (
            plan.tag,
            False,
            prerelease,
        )
        assert standin.releases[document["id"]].make_latest == [latest]
        assert standin.latest_tag() == latest_after
        assert asset_table(document) == expected_table(files)
    assert len(standin.release_documents()) == 5

    [v110] = releases_of(standin, "v1.1.0")
    plan = plan_for(history, "1.1.0", config(history.root, standin.api_url))
    features = "### Features\n\n" + entry(history, "feat(api): token introspection")
    assert v110["body"] == body(history, plan, features, "compare/v1.0.0...v1.1.0")
    [v101] = releases_of(standin, "v1.0.1")
    plan = plan_for(history, "1.0.1", config(history.root, standin.api_url))
    fixes = "### Bug Fixes\n\n" + entry(history, "fix: refuse expired refresh tokens")
    assert v101["body"] == body(history, plan, fixes, "compare/v1.0.0...v1.0.1")


def test_assets_are_the_archives_sha256sums_and_this_tags_bundles(
    history: History, standin: GitHubStandIn
) -> None:
    history.tag("1.2.0-rc.1", "feat: device flow")
    rc = plan_for(history, "1.2.0-rc.1", config(history.root, standin.api_url))
    write_dist(rc)
    plan, files = released(history, standin, "1.2.0", "fix: polling interval")
    (plan.dist / "notes.txt").write_text("not an asset\n")
    assert sorted(expected_assets(plan)) == [
        "SHA256SUMS",
        "barycenter-v1.2.0-linux-amd64.tar.gz",
        "barycenter-v1.2.0-linux-arm64.tar.gz",
        "barycenter-v1.2.0.provenance.sigstore.json",
    ]
    run(plan)
    [document] = releases_of(standin, "v1.2.0")
    assert asset_table(document) == expected_table(files)
    served = {a["name"]: a["digest"] for a in document["assets"]}
    sums = files["SHA256SUMS"].decode().splitlines()
    assert sums == [
        f"{served[name].removeprefix('sha256:')}  {name}"
        for name in ("barycenter-v1.2.0-linux-amd64.tar.gz", "barycenter-v1.2.0-linux-arm64.tar.gz")
    ]


def test_a_rerun_finds_its_draft_and_uploads_nothing_twice(
    history: History, standin: GitHubStandIn
) -> None:
    plan, files = released(history, standin, "1.0.0", "feat: first")
    standin.server_error("repos/update-release", call=None, status=503)
    with pytest.raises(ReleaseError, match=r"^GitHub failed updating release \d+ 5 times \(503"):
        run(plan)
    assert (
        str(step().state(plan)) and step().state(plan).detail == "draft release 1001: 4 of 4 assets"
    )
    standin.clear_faults()
    uploads = len(standin.calls_to("repos/upload-release-asset"))
    lines = run(plan)
    assert lines == [
        "  publish v1.0.0 (make_latest: true)",
        f"  {releases_of(standin, 'v1.0.0')[0]['html_url']}",
    ]
    assert len(standin.calls_to("repos/create-release")) == 1
    assert len(standin.calls_to("repos/upload-release-asset")) == uploads
    [document] = releases_of(standin, "v1.0.0")
    assert document["draft"] is False
    assert asset_table(document) == expected_table(files)
    assert run(plan) == [f"  {document['html_url']}"]


def test_surplus_drafts_of_the_tag_are_deleted_and_the_fullest_kept(
    history: History, standin: GitHubStandIn
) -> None:
    plan, files = released(history, standin, "1.0.0", "feat: first")
    client = GitHubClient.from_environment(REPOSITORY, standin.api_url, retry=FAST)
    empty = client.create_release("v1.0.0", "v1.0.0", "old", False)
    fuller = client.create_release("v1.0.0", "v1.0.0", "old", False)
    client.upload_asset(fuller, plan.dist / "SHA256SUMS")
    assert step().state(plan).detail == "2 releases for v1.0.0, drafts among them"
    lines = run(plan)
    assert lines[0] == f"  delete surplus draft release {empty.id} of v1.0.0"
    [document] = releases_of(standin, "v1.0.0")
    assert document["id"] == fuller.id
    assert asset_table(document) == expected_table(files)


def test_a_different_or_foreign_asset_is_replaced_or_deleted(
    history: History, standin: GitHubStandIn
) -> None:
    plan, files = released(history, standin, "1.0.0", "feat: first")
    run(plan)
    amd64 = "barycenter-v1.0.0-linux-amd64.tar.gz"
    [document] = releases_of(standin, "v1.0.0")
    client = GitHubClient.from_environment(REPOSITORY, standin.api_url, retry=FAST)
    release = client.find_release("v1.0.0")
    assert release is not None
    asset_id = next(a["id"] for a in document["assets"] if a["name"] == amd64)
    client.delete_asset(asset_id)
    stale = plan.dist.parent / "stale" / amd64
    stale.parent.mkdir()
    stale.write_bytes(files[amd64][:-1] + b"\1")
    client.upload_asset(release, stale)
    client.upload_asset(release, plan.dist.parent / "stale" / amd64, name="leftover.txt")
    state = step().state(plan)
    assert (state.state, state.detail) == (
        State.TODO,
        "published, but 0 assets missing, 1 different, 1 unexpected",
    )
    served = releases_of(standin, "v1.0.0")[0]["assets"][-2]["digest"]
    assert step().describe(plan) == [
        "delete asset leftover.txt (not part of v1.0.0)",
        f"replace asset {amd64} (digest {served[:19]}…, "
        f"the file's {github_support.sha256(files[amd64])[:19]}…)",
    ]
    run(plan)
    [document] = releases_of(standin, "v1.0.0")
    assert asset_table(document) == expected_table(files)
    assert step().state(plan).state is State.DONE


# A fault at each API call of a first run. Transient ones are absorbed by the adapter's retries;
# persistent ones fail the run with one line, and the rerun converges.

CALLS = [
    ("repos/list-releases", 1),
    ("repos/create-release", 1),
    ("repos/list-release-assets", 1),
    ("repos/upload-release-asset", 1),
    ("repos/upload-release-asset", 4),
    ("repos/update-release", 1),
]
KINDS = ["5xx", "5xx after acting", "rate limit", "dropped", "dropped after acting"]


def inject(standin: GitHubStandIn, kind: str, operation: str, call: int | None) -> None:
    if kind == "5xx":
        standin.server_error(operation, call, status=502)
    elif kind == "5xx after acting":
        standin.server_error(operation, call, status=502, apply=True)
    elif kind == "rate limit":
        standin.rate_limit(operation, call, retry_after=0)
    elif kind == "dropped":
        standin.drop(operation, call, after_bytes=1000)
    else:
        standin.drop(operation, call, apply=True)


def converged(standin: GitHubStandIn, plan: Plan, files: dict[str, bytes]) -> None:
    [document] = releases_of(standin, plan.tag)
    assert document["draft"] is False
    assert asset_table(document) == expected_table(files)
    assert standin.latest_tag() == plan.tag
    assert step().state(plan).state is State.DONE


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("operation", "call"), CALLS)
def test_a_passing_fault_is_retried_and_leaves_one_release(
    history: History, standin: GitHubStandIn, operation: str, call: int, kind: str
) -> None:
    plan, files = released(history, standin, "1.0.0", "feat: first")
    inject(standin, kind, operation, call)
    lines = run(plan)
    assert [c.fault for c in standin.calls_to(operation)][call - 1] == (
        "drop"
        if kind.startswith("dropped")
        else "status"
        if kind.startswith("5xx")
        else "rate_limit"
    )
    waits = [line for line in lines if line.startswith("  GitHub ")]
    assert len(waits) == 1, lines
    converged(standin, plan, files)


@pytest.mark.parametrize("kind", ["5xx", "rate limit", "dropped"])
@pytest.mark.parametrize("operation", sorted({operation for operation, _ in CALLS}))
def test_a_lasting_fault_fails_the_run_in_one_line_and_a_rerun_converges(
    history: History, standin: GitHubStandIn, operation: str, kind: str
) -> None:
    plan, files = released(history, standin, "1.0.0", "feat: first")
    inject(standin, kind, operation, None)
    with pytest.raises(ReleaseError) as failure:
        run(plan)
    message = str(failure.value)
    assert message.startswith("GitHub failed ") and "\n" not in message
    assert message.endswith(": GitHub may be unavailable; run again later, a rerun resumes")
    standin.clear_faults()
    assert step().state(plan).state is State.TODO
    run(plan)
    converged(standin, plan, files)


def test_a_rate_limit_waits_what_github_asks_and_says_so(
    history: History, standin: GitHubStandIn
) -> None:
    plan, files = released(history, standin, "1.0.0", "feat: first")
    standin.rate_limit("repos/create-release", 1, retry_after=1)
    standin.rate_limit("repos/update-release", 1, retry_after=None, reset_in=2, status=429)
    started = time.monotonic()
    lines = run(plan)
    assert time.monotonic() - started >= 2.0
    waits = [line for line in lines if "rate limit" in line]
    assert waits[0] == (
        "  GitHub rate limit: 403 You have exceeded a secondary rate limit. Please wait a few "
        "minutes before you try again.; waiting 1.0 s before creating the release v1.0.0"
    )
    assert waits[1].startswith("  GitHub rate limit: 429 You have exceeded")
    assert waits[1].endswith(" before updating release 1001")
    converged(standin, plan, files)


def test_a_rate_limit_past_the_bound_stops_with_when_to_run_again(
    history: History, standin: GitHubStandIn
) -> None:
    plan, files = released(history, standin, "1.0.0", "feat: first")
    standin.rate_limit("repos/upload-release-asset", 2, retry_after=600)
    bounded = step(RetryPolicy(first_pause=0.01, max_wait=30))
    started = time.monotonic()
    with pytest.raises(ReleaseError) as failure:
        run(plan, bounded)
    assert time.monotonic() - started < 10
    assert str(failure.value).startswith(
        "GitHub asks to wait 600 s more before uploading barycenter-v1.0.0-linux-amd64.tar.gz "
        "(403 You have exceeded a secondary rate limit."
    )
    assert "past the 30 s allowed (github-max-wait): run again after " in str(failure.value)
    run(plan)
    converged(standin, plan, files)


def test_the_token_never_shows(
    history: History,
    standin: GitHubStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan, _ = released(history, standin, "1.0.0", "feat: first")
    standin.server_error("repos/create-release", 1)
    standin.rate_limit("repos/upload-release-asset", 1, retry_after=0)
    standin.drop("repos/upload-release-asset", 3, after_bytes=100)
    seen = run(plan)
    seen += [*step().describe(plan), step().state(plan).detail, *problems_of(plan, [step()])]
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong" + standin.token[9:])
    with pytest.raises(ReleaseError) as refused:
        step().state(plan)
    assert str(refused.value) == (
        "GitHub refused listing the releases of barycenter-oidc/barycenter (page 1) "
        "(401 Bad credentials): set GITHUB_TOKEN or GH_TOKEN to a valid token"
    )
    standin.unauthenticated.clear()
    seen.append(str(refused.value))
    captured = capsys.readouterr()
    text = "\n".join([*seen, captured.out, captured.err])
    assert standin.token not in text
    assert standin.token[9:] not in text


def test_check_names_every_problem_with_its_fix(
    history: History, standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, _ = released(history, standin, "1.0.0", "feat: first")
    assert problems_of(plan, [step()]) == []
    monkeypatch.delenv("GITHUB_TOKEN")
    (plan.dist / "barycenter-v1.0.0-linux-arm64.tar.gz").unlink()
    problems = problems_of(plan, [PublishGitHubRelease(retry=FAST, index_digest=lambda _: None)])
    assert problems == [
        "GITHUB_TOKEN and GH_TOKEN are unset: export one with a token that has contents: write "
        "on barycenter-oidc/barycenter",
        f"{plan.dist}/barycenter-v1.0.0-linux-arm64.tar.gz is missing: "
        "run invoke release.build --version 1.0.0",
        f"{IMAGE}:v1.0.0 is not in the registry, and the release body names its digest: "
        "run invoke release.publish --version 1.0.0",
    ]
    monkeypatch.setenv("GH_TOKEN", standin.token)
    write_dist(plan)
    (plan.dist / "barycenter-v1.0.0-linux-amd64.tar.gz").write_bytes(b"rebuilt")
    [problem] = problems_of(plan, [step()])
    assert problem.startswith(f"{plan.dist}/SHA256SUMS does not hold barycenter-v1.0.0-linux-amd64")
    assert problem.endswith(": run invoke release.checksums --version 1.0.0")


def test_describe_says_what_a_run_would_do_and_does_nothing(
    history: History, standin: GitHubStandIn
) -> None:
    plan, files = released(history, standin, "1.2.0-rc.1", "feat: device flow")
    assert step().describe(plan) == [
        f"create draft release v1.2.0-rc.1 on {REPOSITORY} ({standin.api_url}): name v1.2.0-rc.1, "
        f"prerelease yes, body: release notes + docker pull {IMAGE}:v1.2.0-rc.1@<index digest>",
        *(f"upload {name} ({len(data)} bytes)" for name, data in sorted(files.items())),
        "publish v1.2.0-rc.1 (make_latest: false)",
    ]
    assert {c.method for c in standin.calls} == {"GET"}
    assert standin.release_documents() == []


def test_an_asset_made_again_after_publishing_is_replaced_and_the_notes_list_its_sha256(
    history: History, standin: GitHubStandIn
) -> None:
    """A rerun of the release workflow signs the provenance keyless again: the same statement,
    a new signature, so a new bundle. It replaces the published one, and the notes' checksums
    follow, so verify's release-body check holds."""
    plan, files = released(history, standin, "1.0.0", "feat: first")
    run(plan)
    bundle = plan.dist / "barycenter-v1.0.0.provenance.sigstore.json"
    bundle.write_bytes(files[bundle.name] + b"\n")
    files[bundle.name] = bundle.read_bytes()
    assert step().state(plan).detail == "published, but 0 assets missing, 1 different, 0 unexpected"
    described = step().describe(plan)
    updating = f"update the notes of v1.0.0: the sha256 of {bundle.name}"
    assert described[-1] == updating

    lines = run(plan)

    assert f"  {updating}" in lines
    [document] = releases_of(standin, "v1.0.0")
    assert asset_table(document) == expected_table(files)
    listed = document["body"].split("## Checksums (sha256)")[1]
    assert f"{hashlib.sha256(files[bundle.name]).hexdigest()}  {bundle.name}" in listed
    assert document["draft"] is False
    assert step().state(plan).state is State.DONE
    assert not [line for line in run(plan) if "update" in line]  # nothing more to change
