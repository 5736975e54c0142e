"""What the registry's answers are reported as: buildx's own words (a build pulling its base
images), and the HTTP adapter's requests that get no answer, or ask to send a password in clear."""

from __future__ import annotations

import socket
import time

import pytest

from release import registry
from release.errors import ReleaseError
from release.oci import RegistryClient

REFERENCE = "127.0.0.1:5000/barycenter:v1.2.0"
INTERNAL = (
    "ERROR: failed commit on ref: unexpected status from PUT request to "
    "http://127.0.0.1:5000/v2/barycenter/manifests/v1.2.0: 500 Internal Server Error"
)


@pytest.mark.parametrize(
    ("stderr", "answer"),
    [
        (INTERNAL, "failed"),
        ("ERROR: dial tcp 127.0.0.1:5000: connect: connection refused", "down"),
        ("ERROR: unexpected status: 401 Unauthorized", "unauthorized"),
        (f"ERROR: {REFERENCE}: not found", "absent"),
    ],
)
def test_what_buildx_says_of_a_registry_is_read_in_one_place(stderr: str, answer: str) -> None:
    assert registry.classify(REFERENCE, stderr) == answer


def test_a_name_that_looks_like_a_status_code_is_no_status_code() -> None:
    reference = "127.0.0.1:5000/measure-f95401:v1"
    assert registry.classify(reference, f"ERROR: {reference}: not found") == "absent"


def test_a_registry_that_accepts_and_never_answers_is_named_after_the_timeout() -> None:
    """The index push over HTTP stops at registry-timeout and says what was left unanswered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepted by the kernel, never read, never answered
        host = f"127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(ReleaseError) as stopped:
            registry.create_index(
                [f"{host}/barycenter:v1.2.0"], [f"{host}/barycenter:v1.2.0-amd64"], timeout=1
            )
        assert time.monotonic() - started < 10
    assert stopped.value.problem == f"the registry {host} did not answer GET barycenter within 1 s"
    assert stopped.value.fix is not None and "run the same command again" in stopped.value.fix


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
