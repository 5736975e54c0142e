"""The tag policy of published images, over a release sequence with hotfixes and pre-releases."""

from __future__ import annotations

import pytest
import semver

from release.history import previous_release
from release.image_tags import floating_candidates, image_tags, successors
from release.plan import published_image_tags, rollback_successors

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


@pytest.mark.parametrize(
    ("version", "others", "floating", "back"),
    [
        # latest and the line's tags go back to the highest other stable release of their scope
        (
            "1.2.0",
            ["1.0.0", "1.1.0", "1.1.1"],
            ["latest", "1.2", "1"],
            {"latest": "1.1.1", "1.2": None, "1": "1.1.1"},
        ),
        # a pre-release never holds a floating tag back
        ("1.0.0", ["1.1.0-rc.1"], ["latest", "1.0", "1"], {"latest": None, "1.0": None, "1": None}),
        # the hotfix of an older line gives back only its own line's tag
        ("1.1.2", ["1.1.1", "1.2.0"], ["1.1"], {"1.1": "1.1.1"}),
        # a major's tag stays within the major
        ("2.0.0", ["1.9.0"], ["latest", "2.0", "2"], {"latest": "1.9.0", "2.0": None, "2": None}),
        ("1.0.0", [], [], {}),
    ],
)
def test_rollback_successors(
    version: str, others: list[str], floating: list[str], back: dict[str, str | None]
) -> None:
    found = successors(V(version), [V(v) for v in others], floating)
    assert {t: (str(v) if v else None) for t, v in found.items()} == back


def test_the_plan_rolls_back_exactly_the_tags_it_would_publish() -> None:
    tags = {"v1.0.0", "v1.1.0", "v1.2.0-rc.1", "v2.0.0"}
    assert published_image_tags(V("1.1.1"), tags, True) == ("v1.1.1", "1.1", "1")
    assert rollback_successors(V("1.1.1"), tags | {"v1.1.1"}, True) == (
        ("1.1", "v1.1.0"),
        ("1", "v1.1.0"),
    )
    assert rollback_successors(V("2.0.0"), tags, True) == (
        ("latest", "v1.1.0"),
        ("2.0", None),
        ("2", None),
    )
    assert rollback_successors(V("2.0.0"), tags, False) == (("latest", "v1.1.0"),)


@pytest.mark.parametrize(
    ("version", "below", "previous"),
    [
        # a stable release counts from the previous stable one, across its candidates
        ("1.2.0", ["1.0.0", "1.1.0", "1.2.0-rc.1", "1.2.0-rc.2"], "1.1.0"),
        # a candidate counts from the release just before it, of any kind
        ("1.2.0-rc.2", ["1.1.0", "1.2.0-rc.1"], "1.2.0-rc.1"),
        # a hotfix counts from its base
        ("1.1.1", ["1.0.0", "1.1.0"], "1.1.0"),
        # releases above X below the tip (a newer line merged in) are not where X starts
        ("1.1.1", ["1.1.0", "1.2.0"], "1.1.0"),
        # the first release counts from the start
        ("0.1.0", [], None),
    ],
)
def test_the_previous_release_of_the_notes_range(
    version: str, below: list[str], previous: str | None
) -> None:
    found = previous_release(V(version), [V(v) for v in below])
    assert (str(found) if found else None) == previous


@pytest.mark.parametrize(
    ("version", "candidates"),
    [("1.2.3", ["latest", "1.2", "1"]), ("0.2.0-rc.1", ["latest", "0.2", "0"])],
)
def test_the_floating_tags_a_version_could_get(version: str, candidates: list[str]) -> None:
    assert floating_candidates(V(version)) == candidates
    # What the rules give a version is always among them, besides vX.
    given = image_tags(V(version), [])
    assert set(given[1:]) <= set(candidates)
