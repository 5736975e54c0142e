"""Conventional Commits 1.0.0 parsing and the grouping and rendering of release notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from release.commits import Commit, footers, parse
from release.notes import Groups, as_json, grouped, markdown

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(
    ("subject", "body", "kind", "scope", "breaking", "description"),
    [
        (
            "feat: add refresh token rotation (#42)",
            "",
            "feat",
            None,
            False,
            "add refresh token rotation (#42)",
        ),
        ("fix(auth): reject reused codes", "", "fix", "auth", False, "reject reused codes"),
        ("feat(api)!: drop v1 endpoints", "", "feat", "api", True, "drop v1 endpoints"),
        ("refactor!: rename the config keys", "", "refactor", None, True, "rename the config keys"),
        (
            "fix: tighten redirect checks",
            "Why.\n\nBREAKING CHANGE: exact match now",
            "fix",
            None,
            True,
            "tighten redirect checks",
        ),
        (
            "fix: tighten redirect checks",
            "Why.\n\nBREAKING-CHANGE: exact match now",
            "fix",
            None,
            True,
            "tighten redirect checks",
        ),
        ("FEAT: shouting is still a type", "", "feat", None, False, "shouting is still a type"),
        ("Update README.md", "", None, None, False, "Update README.md"),
        ("feat:missing space", "", None, None, False, "feat:missing space"),
        ("feat(): empty scope", "", "feat", None, False, "empty scope"),
        ("revert: feat: add x", "This reverts commit 1234.", "revert", None, False, "feat: add x"),
    ],
)
def test_headers_and_footers(
    subject: str, body: str, kind: str | None, scope: str | None, breaking: bool, description: str
) -> None:
    commit = parse("a" * 40, subject, body)
    assert (commit.type, commit.scope, commit.breaking, commit.description) == (
        kind,
        scope,
        breaking,
        description,
    )


def test_the_breaking_footer_text_is_kept() -> None:
    commit = parse("a" * 40, "fix: x", "Body.\n\nBREAKING CHANGE: tokens expire sooner")
    assert commit.breaking_note == "tokens expire sooner"


def test_footers_come_from_the_last_paragraph_and_may_wrap() -> None:
    assert footers("Body text.\n\nReviewed-by: Ana\nRefs #12\nBREAKING CHANGE: a\n  b") == [
        ("Reviewed-by", "Ana"),
        ("Refs", "12"),
        ("BREAKING CHANGE", "a\n  b"),
    ]
    assert footers("Just a body without trailers.") == []


@pytest.mark.parametrize(
    ("subject", "listed", "revert"),
    [
        ("fixup! feat: add x", False, False),
        ("squash! fix: y", False, False),
        ("amend! fix: y", False, False),
        ('Revert "feat: add x"', True, True),
        ("revert: feat: add x", True, True),
        ("feat: add x", True, False),
    ],
)
def test_autosquash_commits_are_not_listed_and_reverts_are(
    subject: str, listed: bool, revert: bool
) -> None:
    commit = parse("b" * 40, subject)
    assert (commit.listed, commit.is_revert) == (listed, revert)


SEED = [
    ("1111111", "feat: add refresh token rotation (#42)"),
    ("2222222", "fix: prevent double consumption of authorization codes (#43)"),
    ("3333333", "chore: update sea-orm to 1.1.0 (#44)"),
    ("4444444", "feat: add device code flow support (#45)"),
    ("5555555", "docs: add PKCE security documentation (#46)"),
    ("6666666", "fixup! feat: add device code flow support"),
]


def seed_notes(extra: list[tuple[str, str]] | None = None) -> list[Commit]:
    return [parse(sha[0] * 40, subject) for sha, subject in [*SEED, *(extra or [])]]


def test_the_seed_renders_exactly_in_the_seeds_shape() -> None:
    notes = grouped(seed_notes(), "v1.2.0", "v1.1.0", Groups())
    assert markdown(notes) == (GOLDEN / "seed-notes.md").read_text()


def test_with_a_repository_url_prs_commits_and_the_compare_link_are_linked() -> None:
    extra = [("7777777", "feat(api)!: drop the v1 token endpoint (#47)"), ("8888888", "Fix typo")]
    notes = grouped(seed_notes(extra), "v2.0.0", "v1.2.0", Groups())
    rendered = markdown(notes, "https://github.com/barycenter-oidc/barycenter")
    assert rendered == (GOLDEN / "linked-notes.md").read_text()


def test_empty_groups_are_omitted_and_an_empty_range_says_so() -> None:
    notes = grouped([parse("9" * 40, "fix: only a fix")], "v1.0.1", "v1.0.0", Groups())
    text = markdown(notes)
    assert "### Features" not in text and "### Other Changes" not in text
    assert (
        markdown(grouped([], "v1.0.2", "v1.0.1", Groups())) == "## What's Changed\n\nNo changes.\n"
    )


def test_group_titles_and_types_come_from_configuration() -> None:
    groups = Groups((("New", ("feat",)), ("Docs", ("docs",)), ("Misc", ("*",))), "Breaking")
    notes = grouped(seed_notes(), "v1.2.0", None, groups)
    assert [title for title, commits in notes.groups.items() if commits] == ["New", "Docs", "Misc"]


def test_json_carries_the_same_groups() -> None:
    import json

    notes = grouped(seed_notes(), "v1.2.0", "v1.1.0", Groups())
    data = json.loads(as_json(notes, "https://github.com/o/r"))
    assert data["tag"] == "v1.2.0" and data["previous_tag"] == "v1.1.0"
    assert [g["title"] for g in data["groups"]] == ["Features", "Bug Fixes", "Other Changes"]
    assert data["compare"] == "https://github.com/o/r/compare/v1.1.0...v1.2.0"


def test_release_commits_are_bookkeeping_not_news() -> None:
    commits = [
        parse("a" * 40, "chore(release): v1.2.1"),
        parse("b" * 40, "chore(release): v2.0.0-rc.1"),
        parse("c" * 40, "chore(release): prepare the docs"),
    ]
    notes = grouped(commits, "v1.2.1", "v1.2.0", Groups())
    assert [c.subject for c in notes.groups["Other Changes"]] == [
        "chore(release): prepare the docs"
    ]
    custom = Groups(release_commit="release {version}")
    assert grouped([parse("d" * 40, "release 1.2.1")], "v1.2.1", None, custom).empty


@pytest.mark.parametrize(
    ("subject", "skipped"),
    [
        ("chore(release): v1.2.1", True),  # the project's own commit-message
        ("[TICKET-1] chore(release): v1.1.0", True),  # ... behind a commit-msg hook
        ("ABC-42: chore(release): v1.1.0", True),
        ("chore: release 0.2.0", True),  # release-please
        ("chore(main): release 17.11.1 (#2864)", True),
        ("chore(main): release my-lib 2.0.0", True),
        ("chore(release): prepare for v2.0.4", True),  # git-cliff
        ("chore: Release my-crate version 0.1.0", True),  # cargo-release
        ("(cargo-release) version 0.3.1", True),
        ("chore(release): 1.2.3 [skip ci]", True),  # semantic-release
        ("bump: version 4.8.0 → 4.8.1", True),  # commitizen
        ("8.0.0", True),  # npm version
        ("v2.1.0 (#301)", True),
        ("Release v1.5.2", True),
        ("chore: prepare Tokio v1.38.0 release (#6600)", True),
        ("chore: release notes for the docs", False),
        ("chore(deps): bump serde from 1.0.1 to 1.0.2", False),
        ("feat: release 1.2.3 of the client", False),
        ("Release process documented", False),
        ("1.2 is out", False),
        ("[docs] explain the release", False),
    ],
)
def test_release_commits_of_this_project_and_other_tools_are_skipped(
    subject: str, skipped: bool
) -> None:
    assert Groups().bookkeeping(subject) is skipped


def test_skip_patterns_take_flags_and_search_anywhere() -> None:
    groups = Groups(skip_commits=("(?i)^wip", "dependabot"))
    assert [groups.bookkeeping(s) for s in ("WIP: x", "chore: bump by dependabot", "8.0.0")] == [
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("subject", "entry"),
    [
        (
            "fix: handle CARGO_REGISTRIES_<name>_TOKEN",
            r"- fix: handle CARGO\_REGISTRIES\_\<name>\_TOKEN",
        ),
        ("fix: keep `<code>` and `a_b` as code", r"- fix: keep `<code>` and `a_b` as code"),
        ("feat: *bold* and [1.2.0] and ~x~", r"- feat: \*bold\* and \[1.2.0\] and \~x\~"),
        (r"fix: C:\Users", r"- fix: C:\\Users"),
        ("# not a heading", r"- \# not a heading"),
        ("> not a quote", r"- \> not a quote"),
        ("1. not a list", r"- 1\. not a list"),
        ("#123 is a plain reference", "- #123 is a plain reference"),
        ("an ` unclosed backtick", "- an ` unclosed backtick"),
    ],
)
def test_subjects_are_plain_text_in_markdown(subject: str, entry: str) -> None:
    assert (
        markdown(grouped([parse("e" * 40, subject)], None, None, Groups())).splitlines()[-1]
        == entry
    )


def test_an_empty_message_gives_no_entry() -> None:
    assert grouped([parse("f" * 40, ""), parse("f" * 40, "  ")], None, None, Groups()).empty
