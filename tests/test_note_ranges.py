"""Which commits a release's notes cover, on real histories: the range rules as a table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from release.changelog_from_history import regenerate
from release.history import full_history, release_range
from release.notes import markdown, notes_for
from tests.gitrepos import REPO_ROOT
from tests.histories import History

pytestmark = pytest.mark.repo


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "repo")


def test_a_stable_release_covers_everything_since_the_last_stable_across_its_rcs(
    history: History,
) -> None:
    history.commit("chore: initial commit")
    history.tag("1.1.0")
    history.commit("feat: A")
    history.tag("1.2.0-rc.1")
    history.commit("fix: B")
    history.tag("1.2.0-rc.2")
    history.commit("fix: C")
    history.tag("1.2.0")

    assert history.previous("1.2.0") == "v1.1.0"
    assert history.subjects("1.2.0") == ["feat: A", "fix: B", "fix: C"]
    assert history.previous("1.2.0-rc.2") == "v1.2.0-rc.1"
    assert history.subjects("1.2.0-rc.2") == ["fix: B"]
    assert history.previous("1.2.0-rc.1") == "v1.1.0"


def test_a_hotfix_merged_back_into_develop_is_not_listed_twice(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.switch("develop", "main")
    history.commit("feat: D")
    history.switch("hotfix/1.0.1", "v1.0.0")
    history.commit("fix: H")
    history.tag("1.0.1")
    history.switch("develop")
    history.merge("v1.0.1")
    history.commit("feat: E")
    history.tag("1.1.0")

    assert history.previous("1.1.0") == "v1.0.1"
    assert history.subjects("1.1.0") == ["feat: D", "feat: E"]
    assert history.subjects("1.0.1") == ["fix: H"]


def test_a_patch_of_an_old_line_counts_from_its_base_not_the_newest_tag(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.1.0")
    history.commit("feat: for 1.2")
    history.tag("1.2.0")
    history.switch("hotfix/1.1.1", "v1.1.0")
    history.commit("fix: old line")
    history.tag("1.1.1")

    assert history.previous("1.1.1") == "v1.1.0"
    assert history.subjects("1.1.1") == ["fix: old line"]


def test_tags_that_are_not_ancestors_never_count(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.switch("experiment", "main")
    history.commit("feat: side work")
    history.tag("1.5.0")
    history.switch("main")
    history.commit("feat: mainline")

    assert history.previous(None) == "v1.0.0"
    assert history.subjects(None) == ["feat: mainline"]
    assert history.previous("1.1.0") == "v1.0.0"


def test_the_first_release_covers_the_whole_history(history: History) -> None:
    history.commit("chore: initial commit")
    history.commit("feat: first feature")
    history.tag("0.1.0")
    assert history.previous("0.1.0") is None
    assert history.subjects("0.1.0") == ["chore: initial commit", "feat: first feature"]


def test_merges_and_autosquash_commits_are_left_out_and_reverts_listed(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.switch("topic", "main")
    history.commit("feat: topic work (#7)")
    history.commit("fixup! feat: topic work")
    history.switch("main")
    history.merge("topic")
    history.commit('Revert "feat: topic work (#7)"', "This reverts commit abc.")

    notes = markdown(notes_for(history.root, "1.1.0"))
    assert "Merge branch" not in notes
    assert "fixup!" not in notes
    assert '- Revert "feat: topic work (#7)"' in notes
    assert "- feat: topic work (#7)" in notes


def test_breaking_changes_by_bang_and_by_footer_lead_the_notes(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.commit("feat(api)!: drop v1")
    history.commit("fix: stricter redirects", "Detail.\n\nBREAKING CHANGE: exact match only")
    history.commit("feat(auth): scoped feature")
    history.commit("Plain subject")

    notes = markdown(notes_for(history.root, "2.0.0"))
    breaking = notes.index("### ⚠ Breaking Changes")
    assert breaking < notes.index("- feat(api)!: drop v1") < notes.index("### Features")
    assert breaking < notes.index("- fix: stricter redirects") < notes.index("### Features")
    assert notes.index("- feat(auth): scoped feature") < notes.index("### Other Changes")
    assert notes.index("### Other Changes") < notes.index("- Plain subject")


def test_an_empty_range_has_no_changes(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    assert markdown(notes_for(history.root, "")) == "## What's Changed\n\nNo changes.\n"


def test_the_full_history_agrees_with_each_single_range(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.switch("develop", "main")
    history.commit("feat: D")
    history.tag("1.1.0-rc.1")
    history.switch("hotfix/1.0.1", "v1.0.0")
    history.commit("fix: H")
    history.tag("1.0.1")
    history.switch("develop")
    history.merge("v1.0.1")
    history.commit("fix: after rc")
    history.tag("1.1.0")
    history.commit("feat: unreleased")

    for found in full_history(history.root):
        version = found.release.version if found.release else None
        single = release_range(history.root, version)
        assert sorted(c.sha for c in found.commits) == sorted(c.sha for c in single.commits), (
            version
        )
        assert (found.previous and found.previous.tag) == (single.previous and single.previous.tag)


def test_release_changelog_full_rebuilds_every_section(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.commit("feat: two")
    history.tag("1.1.0")
    history.commit("fix: three")

    text = regenerate(history.root, full=True)

    assert text.index("## [Unreleased]") < text.index("- fix: three") < text.index("## [1.1.0]")
    assert text.index("## [1.1.0] - ") < text.index("- feat: two") < text.index("## [1.0.0] - ")
    assert regenerate(history.root, full=True) == text


def test_release_changelog_adds_only_missing_sections(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    (history.root / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n- hand-written\n\n## [1.0.0] - 2020-01-01\n\nKept.\n"
    )
    history.commit("feat: two")
    history.tag("1.1.0")

    text = regenerate(history.root, full=False)

    assert "Kept." in text and "- hand-written" in text
    assert text.index("- hand-written") < text.index("## [1.1.0]") < text.index("## [1.0.0]")
    assert text.count("## [1.1.0]") == 1


def test_release_notes_task_prints_markdown_or_json(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.commit("feat: two (#2)")
    common = [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), "release.notes"]
    md = subprocess.run(
        [*common, "--repo", str(history.root)], capture_output=True, text=True, check=True
    ).stdout
    assert md == "## What's Changed\n\n### Features\n\n- feat: two (#2)\n"
    js = subprocess.run(
        [*common, "--repo", str(history.root), "--format", "json", "--version", "1.1.0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"tag": "v1.1.0"' in js and '"previous_tag": "v1.0.0"' in js


def test_released_ranges_are_cached_until_a_release_tag_changes(history: History) -> None:
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.commit("feat: two")
    history.tag("1.1.0")
    history.commit("fix: unreleased")
    cache = history.root / ".git" / "barycenter-release"

    cold = regenerate(history.root, full=True, use_cache=False)
    assert not cache.exists()
    first = regenerate(history.root, full=True)
    assert [p.name for p in cache.iterdir()] == ["ranges-v3.json"]
    assert regenerate(history.root, full=True) == first == cold

    # The unreleased range is never cached; a new release tag rebuilds the cache.
    history.commit("feat: three")
    history.tag("1.2.0")
    text = regenerate(history.root, full=True)
    assert text == regenerate(history.root, full=True, use_cache=False)
    assert text.index("## [1.2.0]") < text.index("- feat: three") < text.index("## [1.1.0]")
