"""What a failed `docker buildx imagetools` call is reported as, from buildx's own words."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import python_on_whales

from release import registry
from release.errors import ReleaseError
from release.oci import RegistryClient
from release.registry import failure

REFERENCE = "127.0.0.1:5000/barycenter:v1.2.0"
INTERNAL = (
    "ERROR: failed commit on ref: unexpected status from PUT request to "
    "http://127.0.0.1:5000/v2/barycenter/manifests/v1.2.0: 500 Internal Server Error"
)


@pytest.mark.parametrize(
    ("stderr", "pushing", "line"),
    [
        (INTERNAL, True, f"cannot push {REFERENCE} to the registry ("),
        (INTERNAL, False, f"cannot read {REFERENCE} from the registry ("),
        (
            "ERROR: dial tcp 127.0.0.1:5000: connect: connection refused",
            True,
            "the registry 127.0.0.1:5000 does not answer (",
        ),
        (
            "ERROR: unexpected status: 401 Unauthorized",
            True,
            f"the registry 127.0.0.1:5000 refused access to {REFERENCE} (unauthorized)",
        ),
    ],
)
def test_a_failed_registry_call_is_one_line_saying_what_was_tried(
    stderr: str, pushing: bool, line: str
) -> None:
    error = failure(REFERENCE, stderr, "docker login", pushing)
    assert error is not None
    assert str(error).startswith(line), str(error)
    assert "\n" not in str(error) and error.fix


def test_an_absent_reference_is_no_error() -> None:
    stderr = f"ERROR: {REFERENCE}: not found"
    assert failure(REFERENCE, stderr, "docker login") is None


def fake_docker(tmp_path: Path, child_pid: Path) -> Path:
    """A `docker` that behaves as the real one under a registry that never answers: its
    buildx plugin, a child holding the same pipes, waits; docker itself stops on SIGTERM.
    This plugin also ignores SIGTERM, the worst case."""
    script = tmp_path / "docker"
    script.write_text(
        f"#!/bin/sh\nsh -c 'echo $$ > {child_pid}; trap \"\" TERM; exec sleep 300' &\nwait\n"
    )
    script.chmod(0o755)
    return script


def test_imagetools_that_never_ends_is_stopped_with_its_plugin_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child_pid = tmp_path / "plugin.pid"
    script = fake_docker(tmp_path, child_pid)
    # registry.imagetools imports python-on-whales' docker when it runs: patched at its source.
    monkeypatch.setattr(
        python_on_whales, "docker", SimpleNamespace(buildx=SimpleNamespace(docker_cmd=[script]))
    )
    with pytest.raises(ReleaseError) as stopped:
        registry.imagetools(REFERENCE, "create", "--tag", REFERENCE, timeout=1)
    assert stopped.value.problem == (
        "the registry 127.0.0.1:5000 did not answer `docker buildx imagetools create` for "
        f"{REFERENCE} within 1 s"
    )
    plugin = Path("/proc") / child_pid.read_text().strip()
    assert stopped_soon(plugin)


def stopped_soon(process: Path) -> bool:
    """Gone, or a zombie for init to reap (SIGKILL lands asynchronously): never running on."""
    for _ in range(100):
        try:
            if process.joinpath("stat").read_text().rsplit(") ", 1)[1][0] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    "challenge",
    [
        'Bearer realm="http://auth.example.com/token",service="registry.example.com"',
        'Bearer realm="http://10.0.0.7:5001/auth"',
    ],
)
def test_a_token_asked_for_over_plain_http_off_loopback_is_refused_before_sending_the_password(
    challenge: str,
) -> None:
    client = RegistryClient("registry.example.com", ("releaser", "s3cret-never-sent"))
    with pytest.raises(ReleaseError) as refused:
        client.authorize(challenge, "repository:o/barycenter:pull")
    assert "over plain HTTP" in refused.value.problem
    assert "s3cret" not in str(refused.value)
