"""`release.changelog --full`: each release's section is its notes, and nothing written by hand
is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
import semver

from release.changelog import section_body
from release.changelog_from_history import regenerate
from release.notes import group_sections, notes_for
from tests.gitrepos import git, invoke
from tests.histories import History, generate

pytestmark = pytest.mark.repo


def notes_body(root: Path, version: str = "") -> str:
    """What `release.notes --version X` lists, as the changelog's section body renders it."""
    return group_sections(notes_for(root, version), "")


def unreleased_body(text: str) -> str:
    start = text.index("## [Unreleased]") + len("## [Unreleased]")
    return text[start : text.index("\n## [", start)].strip("\n")


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_every_tags_section_lists_exactly_its_notes(tmp_path: Path, seed: int) -> None:
    root = tmp_path / "repo"
    tags = generate(root, seed)
    assert len(tags) > 20  # release candidates, branch-cut patches, hotfixes of older lines

    text = regenerate(root, full=True)

    for tag in tags:
        version = semver.Version.parse(tag.removeprefix("v"))
        assert section_body(text, version) == notes_body(root, str(version)), tag
    assert unreleased_body(text) == notes_body(root)
    assert regenerate(root, full=True, use_cache=False) == text


def test_a_minor_release_keeps_the_commits_a_branch_cut_after_it_also_shipped(
    tmp_path: Path,
) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    history.tag("1.1.0")
    history.commit("feat: shipped in both")
    history.switch("release/1.1", "main")
    history.commit("fix: only the patch")
    history.tag("1.1.1")
    history.switch("main")
    history.commit("feat: only the minor")
    history.tag("1.2.0")

    text = regenerate(history.root, full=True)

    assert section_body(text, semver.Version.parse("1.2.0")) == (
        "### Features\n\n- feat: only the minor\n- feat: shipped in both"
    )
    assert section_body(text, semver.Version.parse("1.1.1")) == (
        "### Features\n\n- feat: shipped in both\n\n### Bug Fixes\n\n- fix: only the patch"
    )


HAND_WRITTEN = """\
# Changelog

Intro.

## [Unreleased]

### Added

- A hand-written entry.

## [1.0.1] - 2020-02-02

Never tagged; written by hand.

## [1.0.0] - 2020-01-01

Rewritten from history.

[1.0.1]: https://example.org/1.0.1
"""


def test_full_keeps_hand_written_unreleased_entries_and_sections_without_a_tag(
    tmp_path: Path,
) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.commit("feat: two")
    history.tag("1.1.0")
    history.commit("fix: unreleased")
    (history.root / "CHANGELOG.md").write_text(HAND_WRITTEN)
    day = git(history.root, "for-each-ref", "--format=%(creatordate:short)", "refs/tags/v1.0.0")

    text = regenerate(history.root, full=True)

    assert text == (
        "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Added\n\n- A hand-written entry.\n\n"
        "### Bug Fixes\n\n- fix: unreleased\n\n"
        f"## [1.1.0] - {day}\n\n### Features\n\n- feat: two\n\n"
        "## [1.0.1] - 2020-02-02\n\nNever tagged; written by hand.\n\n"
        f"## [1.0.0] - {day}\n\n### Other Changes\n\n- chore: initial commit\n\n"
        "[1.0.1]: https://example.org/1.0.1\n"
    )
    # Run again, the generated entries are not taken for hand-written ones.
    (history.root / "CHANGELOG.md").write_text(text)
    assert regenerate(history.root, full=True) == text
    # Once released, the entry leaves Unreleased for its release's section.
    history.tag("1.2.0")
    again = regenerate(history.root, full=True)
    assert unreleased_body(again) == "### Added\n\n- A hand-written entry."
    assert (
        section_body(again, semver.Version.parse("1.2.0")) == "### Bug Fixes\n\n- fix: unreleased"
    )


def test_full_refuses_to_overwrite_uncommitted_changes_unless_forced(tmp_path: Path) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    changelog = history.root / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [Unreleased]\n\n- edited, not committed\n")

    refused = invoke(history.root, "release.changelog", "--full")

    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        "error: CHANGELOG.md has uncommitted changes that --full would overwrite: "
        "commit or stash them first, or pass --force to overwrite them\n"
    )
    assert changelog.read_text() == "# Changelog\n\n## [Unreleased]\n\n- edited, not committed\n"

    git(history.root, "add", "CHANGELOG.md")
    git(history.root, "commit", "-q", "-m", "docs: changelog")
    changelog.write_text(changelog.read_text() + "\n- another edit\n")
    assert invoke(history.root, "release.changelog", "--full").returncode == 1

    forced = invoke(history.root, "release.changelog", "--full", "--force")
    assert (forced.returncode, forced.stderr) == (0, "")
    assert "- edited, not committed\n\n- another edit\n\n### Other Changes" in changelog.read_text()
    # Committed, it is rebuilt without --force; printing to stdout never needs it.
    git(history.root, "commit", "-q", "-am", "docs: changelog")
    assert invoke(history.root, "release.changelog", "--full").returncode == 0
    changelog.write_text("edited\n")
    printed = invoke(history.root, "release.changelog", "--full", "--output", "-")
    assert printed.returncode == 0 and printed.stdout.startswith("# Changelog")
