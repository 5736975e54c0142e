"""A scratch clone of this repository with a bare origin, a unique image on the stack's
registry, an ephemeral cosign key and a GitHub stand-in: where whole releases are run in tests."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from devstack.github_standin import GitHubStandIn
from release import cosign
from tests.gitrepos import REPO_ROOT, configure_identity, git

PASSWORD = "sandbox-test-key-password"  # noqa: S105 - a throwaway test key's


@dataclass(frozen=True)
class ReleaseSandbox:
    base: Path
    standin: GitHubStandIn
    token: str
    image: str
    key_password: str = PASSWORD

    @property
    def work(self) -> Path:
        return self.base / "work"

    @property
    def origin(self) -> Path:
        return self.base / "origin.git"

    @property
    def overrides(self) -> Path:
        return self.base / "overrides.toml"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "COSIGN_PASSWORD": self.key_password,
            "GITHUB_TOKEN": self.token,
            "BARYCENTER_RELEASE_CONFIG": str(self.overrides),
        }

    def argv(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "invoke",
            "-r",
            str(REPO_ROOT),
            *args,
            "--repo",
            str(self.work),
        ]

    def invoke(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            check=False,
            timeout=1500,
            env=self.environment(),
        )

    def states(self, version: str) -> dict[str, str]:
        result = self.invoke("release.status", "--version", version, "--format", "json")
        assert result.returncode == 0, result.stderr
        return {row["step"]: row["state"] for row in json.loads(result.stdout)["steps"]}

    def killed_at(self, line_start: str, delay: float, *args: str) -> str:
        """Run a task and SIGKILL its process group `delay` s after a line starts with
        `line_start`, as a closed terminal would; return what it printed."""
        process = subprocess.Popen(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env=self.environment(),
        )
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith(line_start):
                time.sleep(delay)
                os.killpg(process.pid, signal.SIGKILL)
                break
        process.wait(timeout=60)
        assert process.returncode == -signal.SIGKILL, "".join(seen)
        return "".join(seen)

    def commit(self, message: str) -> None:
        git(self.work, "switch", "-q", "main")
        git(self.work, "commit", "-q", "--allow-empty", "-m", message)
        git(self.work, "push", "-q", "origin", "main")

    def snapshot(self) -> tuple[str, str, str]:
        return (
            git(self.work, "for-each-ref", "--format=%(refname) %(objectname)"),
            git(self.origin, "for-each-ref", "--format=%(refname) %(objectname)"),
            git(self.work, "status", "--porcelain", "--untracked-files=all"),
        )


def make_sandbox(
    base: Path,
    standin: GitHubStandIn,
    token: str,
    develop: bool,
    registry: str = "127.0.0.1:5000",
    key_password: str = PASSWORD,
) -> ReleaseSandbox:
    image = f"{registry}/barycenter-sandbox-{uuid.uuid4().hex[:8]}"
    sandbox = ReleaseSandbox(base, standin, token, image, key_password)
    git(base, "clone", "-q", "--bare", "--no-tags", str(REPO_ROOT), str(sandbox.origin))
    # The checkout may be a worktree on another branch: origin's main is what it has checked out.
    git(sandbox.origin, "update-ref", "refs/heads/main", git(REPO_ROOT, "rev-parse", "HEAD"))
    git(sandbox.origin, "symbolic-ref", "HEAD", "refs/heads/main")
    git(base, "clone", "-q", str(sandbox.origin), str(sandbox.work))
    configure_identity(sandbox.work)
    git(sandbox.work, "commit", "-q", "--allow-empty", "-m", "feat: a change worth releasing")
    git(sandbox.work, "push", "-q", "origin", "HEAD:main")
    if develop:
        git(sandbox.work, "push", "-q", "origin", "main:develop")
        git(sandbox.work, "fetch", "-q", "origin", "develop:develop")
    keys = base / "keys"
    keys.mkdir()
    key, public = cosign.generate_key_pair(keys, key_password)
    sandbox.overrides.write_text(
        f'image = "{sandbox.image}"\n'
        f'attestation-key = "{key}"\nattestation-public-key = "{public}"\n'
        f'github-api-url = "{standin.api_url}"\n'
    )
    return sandbox


def new_token() -> str:
    return "ghp_" + secrets.token_hex(18)
