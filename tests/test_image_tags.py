"""The tag policy of published images, over a release sequence with hotfixes and pre-releases."""

from __future__ import annotations

import pytest
import semver

from release.image_tags import image_tags

V = semver.Version.parse

SEQUENCE = ["1.0.0", "1.1.0", "1.2.0-rc.1", "1.1.1", "1.2.0", "2.0.0-beta.1", "1.2.1"]


def pointers_after_each_step() -> list[dict[str, str]]:
    """Replay the sequence: which version each floating tag names after each publish."""
    published: list[semver.Version] = []
    pointers: dict[str, str] = {}
    history = []
    for text in SEQUENCE:
        version = V(text)
        for tag in image_tags(version, published):
            pointers[tag] = text
        published.append(version)
        history.append({k: v for k, v in pointers.items() if not k.startswith("v")})
    return history


EXPECTED = [
    {"latest": "1.0.0", "1": "1.0.0", "1.0": "1.0.0"},
    {"latest": "1.1.0", "1": "1.1.0", "1.0": "1.0.0", "1.1": "1.1.0"},
    {"latest": "1.1.0", "1": "1.1.0", "1.0": "1.0.0", "1.1": "1.1.0"},
    {"latest": "1.1.1", "1": "1.1.1", "1.0": "1.0.0", "1.1": "1.1.1"},
    {"latest": "1.2.0", "1": "1.2.0", "1.0": "1.0.0", "1.1": "1.1.1", "1.2": "1.2.0"},
    {"latest": "1.2.0", "1": "1.2.0", "1.0": "1.0.0", "1.1": "1.1.1", "1.2": "1.2.0"},
    {"latest": "1.2.1", "1": "1.2.1", "1.0": "1.0.0", "1.1": "1.1.1", "1.2": "1.2.1"},
]


@pytest.mark.parametrize("step", range(len(SEQUENCE)), ids=SEQUENCE)
def test_floating_tags_after_each_publish(step: int) -> None:
    assert pointers_after_each_step()[step] == EXPECTED[step]


@pytest.mark.parametrize(
    ("version", "published", "tags"),
    [
        ("1.0.0", [], ["v1.0.0", "latest", "1.0", "1"]),
        ("1.2.0-rc.1", ["1.1.0"], ["v1.2.0-rc.1"]),
        ("1.1.1", ["1.1.0", "1.2.0"], ["v1.1.1", "1.1"]),
        ("1.0.5", ["1.1.0", "2.0.0"], ["v1.0.5", "1.0"]),
        ("2.0.0", ["1.9.0", "2.0.0-rc.1"], ["v2.0.0", "latest", "2.0", "2"]),
        ("1.9.1", ["1.9.0", "2.0.0"], ["v1.9.1", "1.9", "1"]),
    ],
)
def test_tags_of_one_publish(version: str, published: list[str], tags: list[str]) -> None:
    assert image_tags(V(version), [V(v) for v in published]) == tags


def test_floating_tags_can_be_turned_off() -> None:
    assert image_tags(V("1.0.0"), [], floating=False) == ["v1.0.0", "latest"]
