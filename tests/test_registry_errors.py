"""What a failed `docker buildx imagetools` call is reported as, from buildx's own words."""

from __future__ import annotations

import pytest

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
