"""Version rules as tables: what a maintainer may type, and which release may follow which."""

from __future__ import annotations

import pytest
import semver

from release.errors import ReleaseError
from release.version import (
    hotfix_base,
    new_version_problems,
    parse_version,
    release_version,
    release_versions,
    tag_name,
)

V = semver.Version.parse


@pytest.mark.parametrize(
    ("typed", "version"),
    [
        ("1.2.0", "1.2.0"),
        ("v1.2.0", "1.2.0"),
        ("1.2.0-rc.1", "1.2.0-rc.1"),
        ("v2.0.0-beta.1", "2.0.0-beta.1"),
        ("10.20.30", "10.20.30"),
    ],
)
def test_semver_with_or_without_the_v_is_accepted(typed: str, version: str) -> None:
    assert str(parse_version(typed)) == version
    assert tag_name(parse_version(typed)) == f"v{version}"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("1.2", "is not SemVer 2.0.0"),
        ("01.2.0", "is not SemVer 2.0.0"),
        ("1.2.0.0", "is not SemVer 2.0.0"),
        ("1.2.0-", "is not SemVer 2.0.0"),
        ("1.2.0-rc.01", "is not SemVer 2.0.0"),
        ("vv1.2.0", "is not SemVer 2.0.0"),
        ("1.2.0+build.5", "carries build metadata '+build.5'"),
        ("1.2.0;rm -rf /", "whitespace or shell metacharacters"),
        ("1.2.0 ", "whitespace or shell metacharacters"),
        ("1.2.0\n", "whitespace or shell metacharacters"),
        ("$(reboot)", "whitespace or shell metacharacters"),
        ("1.2.0`id`", "whitespace or shell metacharacters"),
        ("", "no version given"),
    ],
)
def test_bad_versions_are_refused_with_one_line_and_a_fix(typed: str, reason: str) -> None:
    with pytest.raises(ReleaseError) as refused:
        parse_version(typed)
    message = str(refused.value)
    assert reason in message
    assert "\n" not in message
    assert refused.value.fix


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v1.2.0", "1.2.0"),
        ("v1.2.0-rc.1", "1.2.0-rc.1"),
        ("1.2.0", None),
        ("v1.2", None),
        ("release-1.2.0", None),
        ("v1.2.0+build", None),
        ("nightly", None),
    ],
)
def test_only_v_semver_tags_are_releases(tag: str, version: str | None) -> None:
    parsed = release_version(tag)
    assert (str(parsed) if parsed else None) == version


def test_release_versions_sort_by_semver_not_by_text() -> None:
    tags = ["v1.10.0", "v1.2.0", "v1.2.0-rc.10", "v1.2.0-rc.2", "latest"]
    assert [str(v) for v in release_versions(tags)] == [
        "1.2.0-rc.2",
        "1.2.0-rc.10",
        "1.2.0",
        "1.10.0",
    ]


@pytest.mark.parametrize(
    ("version", "reachable", "tags", "expected"),
    [
        ("1.2.0", ["1.1.0"], ["v1.1.0"], []),
        ("1.2.0-rc.1", ["1.1.0"], ["v1.1.0"], []),
        ("1.2.0", ["1.1.0", "1.2.0-rc.2"], ["v1.1.0", "v1.2.0-rc.2"], []),
        ("1.1.0", ["1.1.0"], ["v1.1.0"], ["already exists", "is not greater than 1.1.0"]),
        ("1.0.5", ["1.1.0"], ["v1.1.0"], ["is not greater than 1.1.0"]),
        ("1.2.0", ["1.1.0"], ["v1.1.0", "v1.2.0"], ["tag v1.2.0 already exists"]),
        (
            "1.2.0-rc.1",
            ["1.1.0"],
            ["v1.1.0", "v1.2.0-rc.2"],
            ["pre-release 1.2.0-rc.1 is not greater than the existing pre-release 1.2.0-rc.2"],
        ),
        (
            "1.2.0-beta.1",
            ["1.1.0"],
            ["v1.1.0", "v1.2.0-rc.1"],
            ["not greater than the existing pre-release 1.2.0-rc.1"],
        ),
        ("1.2.0-rc.3", ["1.1.0"], ["v1.1.0", "v1.2.0-rc.2"], []),
        ("2.0.0", [], [], []),
    ],
)
def test_which_version_may_be_released_next(
    version: str, reachable: list[str], tags: list[str], expected: list[str]
) -> None:
    problems = new_version_problems(V(version), [V(v) for v in reachable], tags)
    assert len(problems) == len(expected), problems
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem
        assert ": " in problem  # every problem names its fix after the colon


@pytest.mark.parametrize(
    ("hotfix", "tags", "base"),
    [
        ("1.2.1", ["v1.2.0"], "1.2.0"),
        ("1.2.2", ["v1.2.0", "v1.2.1"], "1.2.1"),
        ("1.2.1", ["v1.2.0", "v1.3.0", "v2.0.0"], "1.2.0"),
        ("1.2.1", ["v1.2.0", "v1.2.1-rc.1"], "1.2.0"),
        ("1.0.1", ["v1.0.0", "v1.1.0"], "1.0.0"),
    ],
)
def test_a_hotfix_starts_from_the_latest_release_of_its_line(
    hotfix: str, tags: list[str], base: str
) -> None:
    assert str(hotfix_base(V(hotfix), tags)) == base


@pytest.mark.parametrize(
    ("hotfix", "tags", "reason"),
    [
        ("1.3.1", ["v1.2.0"], "there is no 1.3 release line"),
        ("1.3.1", ["v1.3.0-rc.1"], "there is no 1.3 release line"),
        ("1.2.3", ["v1.2.0", "v1.2.1"], "skips patches after 1.2.1"),
        ("1.2.1", ["v1.2.0", "v1.2.1"], "tag v1.2.1 already exists"),
        ("1.2.1-rc.1", ["v1.2.0"], "is a pre-release"),
    ],
)
def test_hotfixes_that_are_not_the_next_patch_are_refused(
    hotfix: str, tags: list[str], reason: str
) -> None:
    with pytest.raises(ReleaseError, match=reason) as refused:
        hotfix_base(V(hotfix), tags)
    assert refused.value.fix


def test_force_allows_skipping_patches() -> None:
    assert str(hotfix_base(V("1.2.3"), ["v1.2.0", "v1.2.1"], force=True)) == "1.2.1"
