"""Two maintainers release two versions at once, on the real stack: clone A's 0.2.0 run has
pushed its tag and is held (SIGSTOP) just as its publish begins; meanwhile clone B releases
0.3.0 whole; then A goes on. Both complete, and `latest` (image and GitHub) ends on 0.3.0:
A decides its tags from the remote as it stands when it publishes, not when it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.github_standin import GitHubStandIn
from release import registry
from tests.gitrepos import configure_identity, git
from tests.release_sandbox import ReleaseSandbox, make_sandbox, new_token


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReleaseSandbox]:
    token = new_token()
    with GitHubStandIn("barycenter-oidc/barycenter", token) as standin:
        yield make_sandbox(tmp_path_factory.mktemp("races"), standin, token, develop=False)
        assert standin.mismatches == []


def second_clone(sandbox: ReleaseSandbox, base: Path) -> ReleaseSandbox:
    other = ReleaseSandbox(base, sandbox.standin, sandbox.token, sandbox.image)
    base.mkdir()
    git(base, "clone", "-q", str(sandbox.origin), str(other.work))
    configure_identity(other.work)
    other.overrides.write_text(sandbox.overrides.read_text())
    return other


def digest(sandbox: ReleaseSandbox, tag: str) -> str | None:
    found = registry.manifest(f"{sandbox.image}:{tag}")
    return None if found is None else str(found["digest"])


def test_two_versions_at_once_both_complete_and_latest_ends_on_the_higher(
    sandbox: ReleaseSandbox, tmp_path: Path
) -> None:
    first = subprocess.Popen(
        sandbox.argv("release", "--version", "0.2.0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=sandbox.environment(),
    )
    assert first.stdout is not None
    seen: list[str] = []
    other = second_clone(sandbox, tmp_path / "second")
    try:
        for line in first.stdout:
            seen.append(line)
            if line.startswith("- publish:"):
                os.killpg(first.pid, signal.SIGSTOP)
                break
        assert seen and seen[-1].startswith("- publish:"), "".join(seen)

        git(other.work, "pull", "-q", "--ff-only", "origin", "main")
        git(other.work, "commit", "-q", "--allow-empty", "-m", "feat: a second change")
        git(other.work, "push", "-q", "origin", "main")
        second = other.invoke("release", "--version", "0.3.0")
        assert second.returncode == 0, second.stdout + second.stderr
        assert digest(sandbox, "latest") == digest(sandbox, "v0.3.0")
    finally:
        os.killpg(first.pid, signal.SIGCONT)
        rest, _ = first.communicate(timeout=900)
    assert first.returncode == 0, "".join(seen) + rest

    assert digest(sandbox, "latest") == digest(sandbox, "v0.3.0")
    assert digest(sandbox, "0") == digest(sandbox, "v0.3.0")
    assert digest(sandbox, "0.2") == digest(sandbox, "v0.2.0")
    assert digest(sandbox, "0.3") == digest(sandbox, "v0.3.0")
    assert sandbox.standin.latest_tag() == "v0.3.0"
    releases = sorted(r["tag_name"] for r in sandbox.standin.release_documents())
    assert releases == ["v0.2.0", "v0.3.0"]
    for clone, version in ((sandbox, "0.2.0"), (other, "0.3.0")):
        verified = clone.invoke("release.verify", "--version", version)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    # Read as JSON: the table wraps long details to fit its width.
    elsewhere = sandbox.invoke("release.verify", "--version", "0.3.0", "--format", "json")
    assert elsewhere.returncode == 1
    details = [check["detail"] for check in json.loads(elsewhere.stdout)["checks"]]
    assert any("dist/v0.3.0 lacks barycenter-v0.3.0-linux-amd64.tar.gz" in d for d in details)
