"""The next version from the conventional commits since the previous release (release/bump.py):
the rule as a table, then on real repositories through `invoke release` and `release.notes`."""

from __future__ import annotations

import pytest
import semver

from release.bump import BumpRules, describe, next_release
from release.commits import Commit, parse
from release.errors import ReleaseError

V = semver.Version.parse


def commits(*subjects: str) -> list[Commit]:
    """Commits newest first, as git log gives them; `!` or a BREAKING CHANGE footer breaks."""
    found = []
    for number, subject in enumerate(subjects):
        subject, _, footer = subject.partition(" | ")
        found.append(parse(f"{number:040x}", subject, footer))
    return found


FIX, FEAT, BREAK, CHORE = "fix: a", "feat: b", "feat!: c", "chore: d"
FOOTER_BREAK = "refactor: e | BREAKING CHANGE: the API changed"

# (releases, commits since the highest stable, commits since the highest, Cargo.toml, pre,
#  final, rules) -> version
TABLE = [
    # The first release: Cargo.toml's version, whatever the commits.
    ([], [FEAT], [FEAT], "0.1.0", None, False, None, "0.1.0"),
    ([], [BREAK], [BREAK], "1.0.0", None, False, None, "1.0.0"),
    # ... as the manifest says it: a pre-release there is the first pre-release.
    ([], [FIX], [FIX], "0.7.0-alpha.3", None, False, None, "0.7.0-alpha.3"),
    ([], [FIX], [FIX], "0.7.0-alpha.3", "alpha", False, None, "0.7.0-alpha.3"),
    ([], [FIX], [FIX], "0.7.0-alpha.3", "beta", False, None, "0.7.0-beta.1"),
    # Pre-releases of the first stable version: their line or Cargo.toml, the higher.
    (["0.2.0-rc.1"], [FEAT], [FEAT], "0.1.0", None, False, None, "0.2.0-rc.2"),
    # After a stable 1.x: breaking -> major, feat -> minor, fix/perf/other -> patch.
    (["1.2.3"], [FIX, BREAK, FEAT], None, "1.2.3", None, False, None, "2.0.0"),
    (["1.2.3"], [FOOTER_BREAK], None, "1.2.3", None, False, None, "2.0.0"),
    (["1.2.3"], [FIX, FEAT], None, "1.2.3", None, False, None, "1.3.0"),
    (["1.2.3"], [FIX], None, "1.2.3", None, False, None, "1.2.4"),
    (["1.2.3"], ["perf: f"], None, "1.2.3", None, False, None, "1.2.4"),
    (["1.2.3"], [CHORE, "Merge things"], None, "1.2.3", None, False, None, "1.2.4"),
    # Below 1.0.0: Cargo's reading, a breaking change makes the next minor (configurable).
    (["0.4.1"], [BREAK], None, "0.4.1", None, False, None, "0.5.0"),
    (["0.4.1"], [BREAK], None, "0.4.1", None, False, BumpRules("major"), "1.0.0"),
    (["0.4.1"], [FEAT], None, "0.4.1", None, False, None, "0.5.0"),
    (["0.4.1"], [FEAT], None, "0.4.1", None, False, BumpRules("minor", "patch"), "0.4.2"),
    (["1.4.1"], [FEAT], None, "1.4.1", None, False, BumpRules("minor", "patch"), "1.5.0"),
    (["0.4.1"], [FIX], None, "0.4.1", None, False, None, "0.4.2"),
    # Only releases reachable count; the highest wins whatever the tag order.
    (["1.0.0", "1.10.0", "1.9.0"], [FIX], None, "1.10.0", None, False, None, "1.10.1"),
    # --pre LABEL: the first pre-release of the next version.
    (["1.2.3"], [FEAT], None, "1.2.3", "rc", False, None, "1.3.0-rc.1"),
    (["1.2.3"], [BREAK], None, "1.2.3", "beta", False, None, "2.0.0-beta.1"),
    # After an rc: the next counter when commits followed it.
    (["1.2.3", "1.3.0-rc.1"], [FIX, FEAT], [FIX], "1.3.0-rc.1", "rc", False, None, "1.3.0-rc.2"),
    (["1.2.3", "1.3.0-rc.1"], [FIX, FEAT], [FIX], "1.3.0-rc.1", None, False, None, "1.3.0-rc.2"),
    # ... a later label starts its own counter; a breaking change after it, a new line.
    (["1.2.3", "1.3.0-beta.2"], [FIX, FEAT], [FIX], "1.3.0", "rc", False, None, "1.3.0-rc.1"),
    (["1.2.3", "1.3.0-rc.1"], [BREAK, FEAT], [BREAK], "1.3.0", None, False, None, "2.0.0-rc.1"),
    # --final: the pre-release line's stable version, with or without commits after it.
    (["1.2.3", "1.3.0-rc.2"], [FEAT], [], "1.3.0-rc.2", None, True, None, "1.3.0"),
    (["1.2.3", "1.3.0-rc.2"], [FIX, FEAT], [FIX], "1.3.0-rc.2", None, True, None, "1.3.0"),
    (["0.1.0-rc.1"], [FEAT], [], "0.1.0-rc.1", None, True, None, "0.1.0"),
    # Nothing since the latest release: that release, whose rerun finishes it or converges.
    (["1.2.3"], [], [], "1.2.3", None, False, None, "1.2.3"),
    (["1.2.3", "1.3.0-rc.1"], [FEAT], [], "1.3.0-rc.1", "rc", False, None, "1.3.0-rc.1"),
    # ... but another label promotes the same commit: a beta becomes the first rc.
    (["1.2.3", "1.3.0-beta.1"], [FEAT], [], "1.3.0", "rc", False, None, "1.3.0-rc.1"),
    (["1.2.3", "1.3.0"], [], [], "1.3.0", None, True, None, "1.3.0"),
    # Pre-releases of the first release continue from Cargo.toml's version.
    (["0.1.0-rc.1"], [FEAT, FIX], [FEAT], "0.1.0-rc.1", None, False, None, "0.1.0-rc.2"),
]


@pytest.mark.parametrize(
    ("releases", "stable", "latest", "manifest", "pre", "final", "rules", "expected"), TABLE
)
def test_the_next_version_follows_the_commits(
    releases: list[str],
    stable: list[str],
    latest: list[str] | None,
    manifest: str,
    pre: str | None,
    final: bool,
    rules: BumpRules | None,
    expected: str,
) -> None:
    proposal = next_release(
        [V(v) for v in releases],
        commits(*stable),
        commits(*(stable if latest is None else latest)),
        V(manifest),
        pre,
        final,
        rules or BumpRules(),
    )
    assert str(proposal.version) == expected


REFUSALS = [
    # --final without a pre-release line, or with commits that outgrew it.
    (["1.2.3"], [FIX], [FIX], None, True, "no pre-release line to finalize", "--pre LABEL"),
    (["1.2.3", "1.3.0-rc.1"], [BREAK], [BREAK], None, True, "make 2.0.0", "2.0.0-rc.1"),
    # A label that would sort below the latest pre-release, or is not a label.
    (["1.2.3", "1.3.0-rc.1"], [FEAT], [FIX], "alpha", False, "would sort below", "--pre rc"),
    (["1.2.3"], [FEAT], [FEAT], "rc.1", False, "not one SemVer identifier", "--pre rc"),
    (["1.2.3"], [FEAT], [FEAT], "7", False, "not one SemVer identifier", "--pre rc"),
    (["1.2.3"], [FEAT], [FEAT], "rc", True, "two versions", "one of them"),
    (["1.2.3"], [FEAT], [FEAT], "", False, "not one SemVer identifier", "--pre rc"),
    (["1.2.3"], [FEAT], [FEAT], "r" * 41, False, "has 41 characters", "at most 40"),
    # A pre-release needs something new (a rerun of one finds it released: see the table).
    (["1.2.3"], [], [], "rc", False, "no commit since v1.2.3", "commit the change"),
    # Nothing released yet: Cargo.toml names the first version, which a pre-release of it
    # would sort below; and there is no line to finalize.
    ([], [FIX], [FIX], "rc", False, "Cargo.toml is at 1.2.3, above 1.2.3-rc.1", "in Cargo.toml"),
    ([], [FIX], [FIX], None, True, "nothing is released yet", "leave out --final"),
]


@pytest.mark.parametrize(
    ("releases", "stable", "latest", "pre", "final", "problem", "fix"), REFUSALS
)
def test_a_version_that_cannot_be_decided_is_refused_naming_the_fix(
    releases: list[str],
    stable: list[str],
    latest: list[str],
    pre: str | None,
    final: bool,
    problem: str,
    fix: str,
) -> None:
    with pytest.raises(ReleaseError) as refused:
        next_release(
            [V(v) for v in releases], commits(*stable), commits(*latest), V("1.2.3"), pre, final
        )
    assert problem in refused.value.problem
    assert fix in (refused.value.fix or "")


def test_a_version_tagged_elsewhere_is_never_proposed_again() -> None:
    # A hotfix tagged on its own branch (hotfix-tag-on-branch): main does not reach v1.2.1.
    fix = commits(FIX)
    proposal = next_release([V("1.2.0")], fix, fix, None, taken={V("1.2.1"), V("1.2.2")})
    assert proposal.version == V("1.2.3")
    feature = commits(FEAT)
    assert next_release([V("1.2.0")], feature, feature, None, taken={V("1.3.0")}).version == V(
        "1.4.0"
    )
    rc = next_release([V("1.2.0")], feature, feature, None, "rc", taken={V("1.3.0-rc.1")})
    assert rc.version == V("1.3.0-rc.2")


def test_the_proposal_names_the_commits_that_decided_it() -> None:
    since = commits(FIX, FEAT, "feat(api): g")
    lines = describe(next_release([V("1.2.3")], since, since, V("1.2.3")))
    assert lines[0] == "next version: 1.3.0 (a feature; 3 commits since v1.2.3)"
    assert [line.split(" ", 3)[-1] for line in lines[1:]] == [FEAT, "feat(api): g"]


def test_the_proposal_counts_from_the_stable_release_and_lists_ten_commits_at_most() -> None:
    fixes = commits(*[f"fix: {n}" for n in range(12)])
    lines = describe(next_release([V("1.2.3"), V("1.2.4-rc.1")], fixes, fixes[:1], None))
    assert lines[0] == (
        "next version: 1.2.4-rc.2 (the next rc of 1.2.4; --final for 1.2.4; "
        "12 commits since v1.2.3)"
    )
    assert len(lines) == 12 and lines[-1] == "  … and 2 more"
    first = describe(next_release([], fixes, fixes, V("0.1.0")))
    assert first == ["next version: 0.1.0 (the first release, Cargo.toml's; 12 commits in all)"]


def test_with_nothing_new_after_a_pre_release_the_proposal_names_final() -> None:
    feature = commits(FEAT)
    again = next_release([V("1.2.3"), V("1.3.0-rc.2")], feature, [], None)
    assert again.version == V("1.3.0-rc.2")
    assert describe(again)[0].startswith(
        "next version: 1.3.0-rc.2 (no commit since v1.3.0-rc.2: its release, again; "
        "--final for 1.3.0; "
    )
