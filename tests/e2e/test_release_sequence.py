"""One sandbox through 1.0.0, 1.1.0, hotfix 1.0.1, 1.2.0-rc.1 and 1.2.0 on the real stack and
the GitHub stand-in (`nox -s e2e`). Releases are killed mid-build, mid-publish and mid-upload
and rerun; after each release `release.verify` passes and `release.status` shows every step
done; a dry run changes nothing anywhere; rolling back 1.2.0 puts latest back on 1.1.0.

Order matters here (each release builds on the previous ones), so the module is one scenario
told in steps that share the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.github_standin import GitHubStandIn
from release import registry
from tests.gitrepos import git
from tests.release_sandbox import ReleaseSandbox, make_sandbox, new_token

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReleaseSandbox]:
    token = new_token()
    with GitHubStandIn("barycenter-oidc/barycenter", token) as standin:
        yield make_sandbox(tmp_path_factory.mktemp("e2e"), standin, token, develop=True)
        assert standin.mismatches == []


def digest(sandbox: ReleaseSandbox, tag: str) -> str | None:
    found = registry.manifest(f"{sandbox.image}:{tag}")
    return None if found is None else str(found["digest"])


def assert_complete(sandbox: ReleaseSandbox, version: str) -> str:
    """verify passes, status shows every step done, one release with each asset once; a
    further run acts on nothing and keeps the index. Returns the index digest."""
    states = sandbox.states(version)
    assert {s: v for s, v in states.items() if v == "to do"} == {}, states
    verified = sandbox.invoke("release.verify", "--version", version)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    releases = [r for r in sandbox.standin.releases.values() if r.tag_name == f"v{version}"]
    assert len(releases) == 1 and not releases[0].draft
    names = [a.name for a in releases[0].assets.values()]
    assert sorted(names) == sorted(set(names)) and len(names) == 4, names
    index = digest(sandbox, f"v{version}")
    again = sandbox.invoke("release", "--version", version)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [line for line in again.stdout.splitlines() if line.startswith("- ")] == []
    assert digest(sandbox, f"v{version}") == index and index is not None
    return index


def test_1_0_0_killed_mid_build_converges(sandbox: ReleaseSandbox) -> None:
    sandbox.killed_at("- build:", 3, "release", "--version", "1.0.0")
    rerun = sandbox.invoke("release", "--version", "1.0.0")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_complete(sandbox, "1.0.0")
    assert git(sandbox.origin, "merge-base", "--is-ancestor", "v1.0.0", "develop") == ""


def test_a_dry_run_changes_nothing_anywhere(sandbox: ReleaseSandbox) -> None:
    sandbox.commit("feat: userinfo endpoint")
    before = (sandbox.snapshot(), digest(sandbox, "latest"), len(sandbox.standin.releases))
    dry = sandbox.invoke("release", "--version", "1.1.0", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert (sandbox.snapshot(), digest(sandbox, "latest"), len(sandbox.standin.releases)) == before
    assert digest(sandbox, "v1.1.0") is None


def test_1_1_0_killed_mid_publish_converges(sandbox: ReleaseSandbox) -> None:
    sandbox.killed_at("- publish:", 0.5, "release", "--version", "1.1.0")
    rerun = sandbox.invoke("release", "--version", "1.1.0")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    index = assert_complete(sandbox, "1.1.0")
    assert digest(sandbox, "latest") == index


def test_hotfix_1_0_1_killed_mid_upload_converges(sandbox: ReleaseSandbox) -> None:
    started = sandbox.invoke("hotfix", "1.0.1")
    assert started.returncode == 0, started.stdout + started.stderr
    git(sandbox.work, "commit", "-q", "--allow-empty", "-m", "fix: token reuse (#50)")
    finished = sandbox.invoke("hotfix.finish")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    # The tag-triggered part, killed while the second asset uploads (held 5 s by the stand-in).
    uploads = len(sandbox.standin.calls_to("repos/upload-release-asset"))
    sandbox.standin.latency("repos/upload-release-asset", 5.0, call=uploads + 2)
    sandbox.killed_at("- github:", 2.5, "release", "--version", "1.0.1")
    rerun = sandbox.invoke("release", "--version", "1.0.1")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_complete(sandbox, "1.0.1")
    # An older line's hotfix moves neither latest nor the GitHub "latest" release.
    assert digest(sandbox, "latest") == digest(sandbox, "v1.1.0")
    assert digest(sandbox, "1.0") == digest(sandbox, "v1.0.1")


def test_1_2_0_rc_1_moves_no_floating_tag(sandbox: ReleaseSandbox) -> None:
    sandbox.commit("feat: device flow")
    # The version from the commits: a feature since 1.1.0, as the first rc.
    result = sandbox.invoke("release", "--pre", "rc", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("next version: 1.2.0-rc.1 (the first rc of 1.2.0; ")
    assert_complete(sandbox, "1.2.0-rc.1")
    assert digest(sandbox, "latest") == digest(sandbox, "v1.1.0")
    assert digest(sandbox, "1.2") is None


def test_1_2_0_then_its_rollback_puts_latest_back_on_1_1_0(sandbox: ReleaseSandbox) -> None:
    result = sandbox.invoke("release", "--final", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("next version: 1.2.0 (the stable release of v1.2.0-rc.1's")
    index = assert_complete(sandbox, "1.2.0")
    assert digest(sandbox, "latest") == index

    rolled = sandbox.invoke("release.rollback", "--version", "1.2.0")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert digest(sandbox, "v1.2.0") is None
    assert digest(sandbox, "latest") == digest(sandbox, "v1.1.0")
    assert "v1.2.0" not in git(sandbox.origin, "tag", "-l").splitlines()
    assert [r for r in sandbox.standin.releases.values() if r.tag_name == "v1.2.0"] == []
    verified = sandbox.invoke("release.verify", "--version", "1.1.0")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    again = sandbox.invoke("release.rollback", "--version", "1.2.0")
    assert again.returncode == 0 and "- " not in "".join(
        line[:2] for line in again.stdout.splitlines()
    )
