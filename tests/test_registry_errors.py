"""How a failed registry read is told apart: absent, unauthorized, or another failure."""

from __future__ import annotations

import pytest

from release import registry


@pytest.mark.parametrize(
    ("reference", "stderr", "outcome"),
    [
        ("127.0.0.1:5000/x-f95401:v1", "ERROR: 127.0.0.1:5000/x-f95401:v1: not found", None),
        ("reg.example/b:v1", "ERROR: reg.example/b:v1: manifest unknown", None),
        (
            "ghcr.io/o/b:v1",
            "ERROR: failed to authorize: 401 Unauthorized",
            "the registry ghcr.io refused access to ghcr.io/o/b:v1 (unauthorized)",
        ),
        (
            "reg.example/b:v1",
            "ERROR: denied: requested access to the resource is denied",
            "the registry reg.example refused access to reg.example/b:v1 (unauthorized)",
        ),
        (
            "reg.example/b:v1",
            "#1 resolving\nERROR: dial tcp 192.0.2.1:443: connection refused\n",
            "cannot read reg.example/b:v1 from the registry "
            "(ERROR: dial tcp 192.0.2.1:443: connection refused)",
        ),
    ],
)
def test_failed_reads_are_told_apart(reference: str, stderr: str, outcome: str | None) -> None:
    failure = registry.read_failure(reference, stderr)
    assert (failure.problem if failure else None) == outcome


@pytest.mark.parametrize(
    ("image", "host"),
    [
        ("ghcr.io/barycenter-oidc/barycenter", "ghcr.io"),
        ("127.0.0.1:5000/barycenter", "127.0.0.1:5000"),
        ("localhost/barycenter", "localhost"),
        ("library/debian", "docker.io"),
        ("debian", "docker.io"),
    ],
)
def test_the_registry_host_of_an_image(image: str, host: str) -> None:
    assert registry.registry_host(image) == host
