"""CHANGELOG.md finalization: Keep a Changelog sections and links, in version order."""

from __future__ import annotations

from datetime import date

import pytest
import semver

from release.changelog import finalize, has_release, release_date, section_body
from release.errors import ReleaseError

V = semver.Version.parse
URL = "https://github.com/example/barycenter"

BEFORE = """\
# Changelog

Intro text.

## [Unreleased]

### Added

- Device code flow.

## [1.1.0] - 2026-10-01

### Fixed

- Old fix.

[Unreleased]: https://github.com/example/barycenter/compare/v1.1.0...HEAD
[1.1.0]: https://github.com/example/barycenter/compare/v1.0.0...v1.1.0
"""

AFTER_1_2_0 = """\
# Changelog

Intro text.

## [Unreleased]

## [1.2.0] - 2026-11-26

### Added

- Device code flow.

## [1.1.0] - 2026-10-01

### Fixed

- Old fix.

[Unreleased]: https://github.com/example/barycenter/compare/v1.2.0...HEAD
[1.2.0]: https://github.com/example/barycenter/compare/v1.1.0...v1.2.0
[1.1.0]: https://github.com/example/barycenter/compare/v1.0.0...v1.1.0
"""


def test_unreleased_entries_move_into_the_new_release() -> None:
    assert finalize(BEFORE, V("1.2.0"), date(2026, 11, 26), V("1.1.0"), URL) == AFTER_1_2_0


def test_finalizing_twice_changes_nothing() -> None:
    once = finalize(BEFORE, V("1.2.0"), date(2026, 11, 26), V("1.1.0"), URL)
    assert finalize(once, V("1.2.0"), date(2026, 11, 27), V("1.1.0"), URL) == once


def test_a_hotfix_of_an_older_line_lands_in_version_order_and_leaves_unreleased() -> None:
    text = finalize(
        AFTER_1_2_0,
        V("1.1.1"),
        date(2026, 11, 28),
        V("1.1.0"),
        URL,
        generated="### Bug Fixes\n\n- fix: token reuse",
    )
    assert (
        text.index("## [1.2.0]") < text.index("## [1.1.1] - 2026-11-28") < text.index("## [1.1.0]")
    )
    assert section_body(text, V("1.1.1")) == "### Bug Fixes\n\n- fix: token reuse"
    assert f"[Unreleased]: {URL}/compare/v1.2.0...HEAD" in text
    links = [line for line in text.splitlines() if line.startswith("[")]
    assert links == [
        f"[Unreleased]: {URL}/compare/v1.2.0...HEAD",
        f"[1.2.0]: {URL}/compare/v1.1.0...v1.2.0",
        f"[1.1.1]: {URL}/compare/v1.1.0...v1.1.1",
        f"[1.1.0]: {URL}/compare/v1.0.0...v1.1.0",
    ]


def test_keep_unreleased_puts_the_section_below_unreleased_without_taking_its_entries() -> None:
    text = finalize(
        BEFORE,
        V("1.1.1"),
        date(2026, 11, 28),
        V("1.1.0"),
        URL,
        generated="- fix",
        keep_unreleased=True,
    )
    assert section_body(text, V("1.1.1")) == "- fix"
    assert (
        text.index("## [Unreleased]") < text.index("- Device code flow.") < text.index("## [1.1.1]")
    )


def test_the_first_release_links_to_its_tag() -> None:
    text = finalize("# Changelog\n\n## [Unreleased]\n", V("0.1.0"), date(2026, 1, 2), None, URL)
    assert "## [0.1.0] - 2026-01-02" in text
    assert text.endswith(
        f"[Unreleased]: {URL}/compare/v0.1.0...HEAD\n[0.1.0]: {URL}/releases/tag/v0.1.0\n"
    )
    assert release_date(text, V("0.1.0")) == date(2026, 1, 2)
    assert has_release(text, V("0.1.0"))


def test_a_changelog_without_unreleased_is_refused() -> None:
    with pytest.raises(ReleaseError, match=r"no '## \[Unreleased\]' section"):
        finalize("# Changelog\n", V("1.0.0"), date(2026, 1, 1), None, URL)
