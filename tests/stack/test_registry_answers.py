"""Absent, unauthorized and down are told apart from a real registry's answers, in one place."""

from __future__ import annotations

import uuid

import pytest

from release import registry
from release.errors import ReleaseError


def test_an_absent_tag_is_none_not_an_error() -> None:
    reference = f"127.0.0.1:5000/absent-{uuid.uuid4().hex[:8]}:v1.0.0"
    assert registry.manifest(reference) is None


def test_a_registry_that_wants_a_login_is_unauthorized(authenticated_registry: str) -> None:
    reference = f"{authenticated_registry}/barycenter:v1.0.0"
    with pytest.raises(ReleaseError) as refused:
        registry.manifest(reference, "set $TOKEN for docker login")
    assert str(refused.value) == (
        f"the registry {authenticated_registry} refused access to {reference} (unauthorized): "
        "set $TOKEN for docker login"
    )


def test_a_registry_that_does_not_answer_is_down() -> None:
    reference = "127.0.0.1:5009/barycenter:v1.0.0"
    with pytest.raises(ReleaseError) as down:
        registry.manifest(reference)
    assert str(down.value).startswith("the registry 127.0.0.1:5009 does not answer (")
    assert str(down.value).endswith(
        "check the registry address and that it runs, then run the same command again"
    )


def test_a_name_that_looks_like_a_status_code_is_no_status_code() -> None:
    # "f95401" in the name is no HTTP 401: the reference is left out of the matching.
    reference = "127.0.0.1:5000/measure-f95401:v1"
    assert registry.manifest(reference) is None
