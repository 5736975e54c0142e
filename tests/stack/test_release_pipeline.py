"""`invoke release` end to end on a scratch clone with a bare origin: dry run, a run killed
mid-build, the rerun that finishes it, and `release.status` read from reality throughout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.github_standin import GitHubStandIn
from release import registry
from tests.gitrepos import git
from tests.release_sandbox import ReleaseSandbox, make_sandbox, new_token

VERSION = "0.2.0"
# The release's stages as `invoke release` reports them, in order: the specification that
# release/pipeline.py's PIPELINE is held to.
STEPS = [
    *["release-branch", "prepare", "pull-request", "merged", "tag", "push"],  # up to the tag
    *["merge-develop", "push-develop", "develop-pull-request", "develop-merged"],  # develop
    *["build", "binaries", "checksums", "publish", "attest", "github", "verify"],  # the workflow
]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReleaseSandbox]:
    token = new_token()
    with GitHubStandIn("barycenter-oidc/barycenter", token) as standin:
        yield make_sandbox(tmp_path_factory.mktemp("pipeline"), standin, token, develop=False)
        assert standin.mismatches == []


# The stages of a release through a pull request: release-via = "push" here.
THROUGH_PULL_REQUEST = (
    "release-branch",
    "pull-request",
    "merged",
    "develop-pull-request",
    "develop-merged",
)


def test_a_release_killed_mid_build_finishes_on_rerun(sandbox: ReleaseSandbox) -> None:
    image = sandbox.image
    before = sandbox.states(VERSION)
    assert list(before) == STEPS
    assert before.pop("merge-develop") == before.pop("push-develop") == "does not apply"
    assert {before.pop(s) for s in THROUGH_PULL_REQUEST} == {"does not apply"}
    assert before == {s: "to do" for s in before}

    untouched = sandbox.snapshot()
    dry = sandbox.invoke("release", "--version", VERSION, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert sandbox.snapshot() == untouched
    assert registry.manifest(f"{image}:v{VERSION}") is None
    assert sandbox.standin.releases == {}
    for line in (
        "would git commit -m 'chore(release): v0.2.0'",
        "would git tag -a v0.2.0 main",
        "would git push --atomic origin refs/heads/main refs/tags/v0.2.0",
        f"push it as {image}:v0.2.0-arm64",
        f"would push the index of {image}:v0.2.0-amd64 {image}:v0.2.0-arm64 as {image}:v0.2.0",
        "would create draft release v0.2.0 on barycenter-oidc/barycenter",
    ):
        assert line in dry.stdout, dry.stdout

    sandbox.killed_at("- build:", 2, "release", "--version", VERSION)
    midway = sandbox.states(VERSION)
    assert midway["prepare"] == midway["tag"] == midway["push"] == "done"
    assert midway["publish"] == midway["github"] == "to do"

    rerun = sandbox.invoke("release", "--version", VERSION)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for finished in ("prepare", "tag", "push"):
        assert f"= {finished}: already done" in rerun.stdout

    after = sandbox.states(VERSION)
    assert after.pop("merge-develop") == after.pop("push-develop") == "does not apply"
    assert {after.pop(s) for s in THROUGH_PULL_REQUEST} == {"does not apply"}
    assert after == {s: "done" for s in after}, after
    verified = sandbox.invoke("release.verify", "--version", VERSION)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for check in ("runs on linux/amd64", "runs on linux/arm64", "provenance", "GitHub release"):
        assert check in verified.stdout
    index = registry.manifest(f"{image}:v{VERSION}")
    assert index is not None
    releases = git(sandbox.origin, "log", "--format=%s", "main").splitlines()
    assert releases.count("chore(release): v0.2.0") == 1
    assert git(sandbox.origin, "tag", "-l", "v*") == "v0.2.0"

    again = sandbox.invoke("release", "--version", VERSION)
    assert again.returncode == 0, again.stderr
    assert [line for line in again.stdout.splitlines() if line.startswith("- ")] == []
    assert registry.manifest(f"{image}:v{VERSION}")["digest"] == index["digest"]  # type: ignore[index]


def test_the_sandbox_is_outside_this_checkout(sandbox: ReleaseSandbox) -> None:
    assert not Path(sandbox.work).resolve().is_relative_to(Path(__file__).resolve().parents[2])


def test_status_glances_at_the_checklist_and_is_timed(sandbox: ReleaseSandbox) -> None:
    """release.status shows the released version's verify row done from a glance (no image
    pulled or run, nothing verified with cosign, nothing downloaded); its time is printed, the
    issue's goal being 2 s. The engine saw no pull of the image and no container of it."""
    import subprocess
    import time

    timings = []
    since = f"{time.time():.3f}"
    for _ in range(3):
        started = time.monotonic()
        status = sandbox.invoke("release.status", "--version", VERSION, "--format", "json")
        timings.append(time.monotonic() - started)
        assert status.returncode == 0, status.stdout + status.stderr
        rows = {row["step"]: row for row in json.loads(status.stdout)["steps"]}
        assert rows["verify"]["state"] == "done", rows["verify"]
        assert "the rest: invoke release.verify" in rows["verify"]["detail"]
        assert rows["attest"]["state"] == "done", rows["attest"]
        assert "read, not verified" in rows["attest"]["detail"]
    print(f"release.status: {', '.join(f'{t:.2f}' for t in timings)} s")
    # The events of the engine about this image (pull, container create/start) in that span.
    events = subprocess.run(
        [
            "docker", "events", "--since", since, "--until", f"{time.time():.3f}",
            "--filter", f"image={sandbox.image}:v{VERSION}", "--format", "{{json .}}",
        ],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert events.stdout.strip() == "", events.stdout
