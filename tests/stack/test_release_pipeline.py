"""`invoke release` end to end on a scratch clone with a bare origin: dry run, a run killed
mid-build, the rerun that finishes it, and `release.status` read from reality throughout."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.github_standin import GitHubStandIn
from release import cosign, registry
from tests.gitrepos import REPO_ROOT, configure_identity, git

VERSION = "0.2.0"


PASSWORD = "pipeline-test-key-password"  # noqa: S105 - a throwaway test key's


TOKEN = "ghp_" + secrets.token_hex(18)


def environment(overrides: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COSIGN_PASSWORD": PASSWORD,
        "GITHUB_TOKEN": TOKEN,
        "BARYCENTER_RELEASE_CONFIG": str(overrides),
    }


def invoke_args(work: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), *args, "--repo", str(work)]


def run(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        invoke_args(work, *args),
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
        env=environment(work.parent / "overrides.toml"),
    )


def states(work: Path, image: str) -> dict[str, str]:
    result = run(work, "release.status", "--version", VERSION, "--image", image, "--format", "json")
    assert result.returncode == 0, result.stderr
    return {row["step"]: row["state"] for row in json.loads(result.stdout)["steps"]}


def snapshot(work: Path, origin: Path) -> tuple[str, str, str]:
    return (
        git(work, "for-each-ref", "--format=%(refname) %(objectname)"),
        git(origin, "for-each-ref", "--format=%(refname) %(objectname)"),
        git(work, "status", "--porcelain", "--untracked-files=all"),
    )


@pytest.fixture(scope="module")
def standin() -> Iterator[GitHubStandIn]:
    with GitHubStandIn("barycenter-oidc/barycenter", TOKEN) as running:
        yield running
    assert running.mismatches == []


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, standin: GitHubStandIn
) -> tuple[Path, Path, str]:
    base = tmp_path_factory.mktemp("pipeline")
    origin = base / "origin.git"
    git(base, "clone", "-q", "--bare", "--no-tags", str(REPO_ROOT), str(origin))
    work = base / "work"
    git(base, "clone", "-q", str(origin), str(work))
    configure_identity(work)
    git(work, "commit", "-q", "--allow-empty", "-m", "feat: a change worth releasing")
    git(work, "push", "-q", "origin", "HEAD:main")
    # An ephemeral key pair outside the clone, named by an overrides file, as a rehearsal does.
    keys = base / "keys"
    keys.mkdir()
    key, public = cosign.generate_key_pair(keys, PASSWORD)
    (base / "overrides.toml").write_text(
        f'attestation-key = "{key}"\nattestation-public-key = "{public}"\n'
        f'github-api-url = "{standin.api_url}"\n'
    )
    return work, origin, f"127.0.0.1:5000/barycenter-pipeline-{uuid.uuid4().hex[:8]}"


def test_a_release_killed_mid_build_finishes_on_rerun(sandbox: tuple[Path, Path, str]) -> None:
    work, origin, image = sandbox
    before = states(work, image)
    assert list(before) == [
        "prepare",
        "tag",
        "push",
        "merge-develop",
        "push-develop",
        "build",
        "binaries",
        "publish",
        "attest",
        "github",
        "verify",
    ]
    assert before.pop("merge-develop") == before.pop("push-develop") == "does not apply"
    assert before == {s: "to do" for s in before}

    untouched = snapshot(work, origin)
    dry = run(work, "release", "--version", VERSION, "--image", image, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert snapshot(work, origin) == untouched
    assert registry.manifest(f"{image}:v{VERSION}") is None
    for line in (
        "would git commit -m 'chore(release): v0.2.0'",
        "would git tag -a v0.2.0 main",
        "would git push --atomic origin refs/heads/main refs/tags/v0.2.0",
        f"would docker buildx build --platform linux/arm64 --push -t {image}:v0.2.0-arm64",
        f"would docker buildx imagetools create -t {image}:v0.2.0",
    ):
        assert line in dry.stdout, dry.stdout

    first = subprocess.Popen(
        invoke_args(work, "release", "--version", VERSION, "--image", image),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=environment(work.parent / "overrides.toml"),
    )
    assert first.stdout is not None
    seen = []
    for line in first.stdout:
        seen.append(line)
        if line.startswith("- build:"):
            time.sleep(2)
            # The whole process group, as a closed terminal would: buildx children die too.
            os.killpg(first.pid, signal.SIGKILL)
            break
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL, "".join(seen)
    midway = states(work, image)
    assert midway["prepare"] == midway["tag"] == midway["push"] == "done"
    assert midway["publish"] == "to do"

    rerun = run(work, "release", "--version", VERSION, "--image", image)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for finished in ("prepare", "tag", "push"):
        assert f"= {finished}: already done" in rerun.stdout

    after = states(work, image)
    assert after.pop("merge-develop") == after.pop("push-develop") == "does not apply"
    assert after == {s: "done" for s in after}, after
    verified = run(work, "release.verify", "--version", VERSION, "--image", image)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for check in (
        "runs on linux/amd64",
        "runs on linux/arm64",
        "provenance",
        "tag latest",
        "GitHub release",
    ):
        assert check in verified.stdout
    index = registry.manifest(f"{image}:v{VERSION}")
    assert index is not None
    releases = git(origin, "log", "--format=%s", "main").splitlines()
    assert releases.count("chore(release): v0.2.0") == 1
    assert git(origin, "tag", "-l", "v*") == "v0.2.0"

    again = run(work, "release", "--version", VERSION, "--image", image)
    assert again.returncode == 0, again.stderr
    assert [line for line in again.stdout.splitlines() if line.startswith("- ")] == []
    assert registry.manifest(f"{image}:v{VERSION}")["digest"] == index["digest"]  # type: ignore[index]
