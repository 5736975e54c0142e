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
    ([], [FEAT], [FEAT], "0.1.0", "", False, None, "0.1.0"),
    ([], [BREAK], [BREAK], "1.0.0", "", False, None, "1.0.0"),
    ([], [FIX], [FIX], "0.1.0", "rc", False, None, "0.1.0-rc.1"),
    # After a stable 1.x: breaking -> major, feat -> minor, fix/perf/other -> patch.
    (["1.2.3"], [FIX, BREAK, FEAT], None, "1.2.3", "", False, None, "2.0.0"),
    (["1.2.3"], [FOOTER_BREAK], None, "1.2.3", "", False, None, "2.0.0"),
    (["1.2.3"], [FIX, FEAT], None, "1.2.3", "", False, None, "1.3.0"),
    (["1.2.3"], [FIX], None, "1.2.3", "", False, None, "1.2.4"),
    (["1.2.3"], ["perf: f"], None, "1.2.3", "", False, None, "1.2.4"),
    (["1.2.3"], [CHORE, "Merge things"], None, "1.2.3", "", False, None, "1.2.4"),
    # Below 1.0.0: Cargo's reading, a breaking change makes the next minor (configurable).
    (["0.4.1"], [BREAK], None, "0.4.1", "", False, None, "0.5.0"),
    (["0.4.1"], [BREAK], None, "0.4.1", "", False, BumpRules("major"), "1.0.0"),
    (["0.4.1"], [FEAT], None, "0.4.1", "", False, None, "0.5.0"),
    (["0.4.1"], [FEAT], None, "0.4.1", "", False, BumpRules("minor", "patch"), "0.4.2"),
    (["0.4.1"], [FIX], None, "0.4.1", "", False, None, "0.4.2"),
    # Only releases reachable count; the highest wins whatever the tag order.
    (["1.0.0", "1.10.0", "1.9.0"], [FIX], None, "1.10.0", "", False, None, "1.10.1"),
    # --pre LABEL: the first pre-release of the next version.
    (["1.2.3"], [FEAT], None, "1.2.3", "rc", False, None, "1.3.0-rc.1"),
    (["1.2.3"], [BREAK], None, "1.2.3", "beta", False, None, "2.0.0-beta.1"),
    # After an rc: the next counter when commits followed it.
    (["1.2.3", "1.3.0-rc.1"], [FIX, FEAT], [FIX], "1.3.0-rc.1", "rc", False, None, "1.3.0-rc.2"),
    (["1.2.3", "1.3.0-rc.1"], [FIX, FEAT], [FIX], "1.3.0-rc.1", "", False, None, "1.3.0-rc.2"),
    # ... a later label starts its own counter; a breaking change after it, a new line.
    (["1.2.3", "1.3.0-beta.2"], [FIX, FEAT], [FIX], "1.3.0", "rc", False, None, "1.3.0-rc.1"),
    (["1.2.3", "1.3.0-rc.1"], [BREAK, FEAT], [BREAK], "1.3.0", "", False, None, "2.0.0-rc.1"),
    # --final: the pre-release line's stable version, with or without commits after it.
    (["1.2.3", "1.3.0-rc.2"], [FEAT], [], "1.3.0-rc.2", "", True, None, "1.3.0"),
    (["1.2.3", "1.3.0-rc.2"], [FIX, FEAT], [FIX], "1.3.0-rc.2", "", True, None, "1.3.0"),
    (["0.1.0-rc.1"], [FEAT], [], "0.1.0-rc.1", "", True, None, "0.1.0"),
    # Nothing since the latest release: that release, whose rerun finishes it or converges.
    (["1.2.3"], [], [], "1.2.3", "", False, None, "1.2.3"),
    (["1.2.3", "1.3.0-rc.1"], [FEAT], [], "1.3.0-rc.1", "rc", False, None, "1.3.0-rc.1"),
    (["1.2.3", "1.3.0"], [], [], "1.3.0", "", True, None, "1.3.0"),
    # Pre-releases of the first release continue from Cargo.toml's version.
    (["0.1.0-rc.1"], [FEAT, FIX], [FEAT], "0.1.0-rc.1", "", False, None, "0.1.0-rc.2"),
]


@pytest.mark.parametrize(
    ("releases", "stable", "latest", "manifest", "pre", "final", "rules", "expected"), TABLE
)
def test_the_next_version_follows_the_commits(
    releases: list[str],
    stable: list[str],
    latest: list[str] | None,
    manifest: str,
    pre: str,
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
    (["1.2.3"], [FIX], [FIX], "", True, "no pre-release line to finalize", "--pre LABEL"),
    (["1.2.3", "1.3.0-rc.1"], [BREAK], [BREAK], "", True, "make 2.0.0", "2.0.0-rc.1"),
    # A label that would sort below the latest pre-release, or is not a label.
    (["1.2.3", "1.3.0-rc.1"], [FEAT], [FIX], "alpha", False, "would sort below", "--pre rc"),
    (["1.2.3"], [FEAT], [FEAT], "rc.1", False, "not one SemVer identifier", "--pre rc"),
    (["1.2.3"], [FEAT], [FEAT], "7", False, "not one SemVer identifier", "--pre rc"),
    (["1.2.3"], [FEAT], [FEAT], "rc", True, "two versions", "one of them"),
]


@pytest.mark.parametrize(
    ("releases", "stable", "latest", "pre", "final", "problem", "fix"), REFUSALS
)
def test_a_version_that_cannot_be_decided_is_refused_naming_the_fix(
    releases: list[str],
    stable: list[str],
    latest: list[str],
    pre: str,
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


def test_the_proposal_names_the_commits_that_decided_it() -> None:
    since = commits(FIX, FEAT, "feat(api): g")
    lines = describe(next_release([V("1.2.3")], since, since, V("1.2.3")))
    assert lines[0] == "next version: 1.3.0 (a feature; 3 commits since v1.2.3)"
    assert [line.split(" ", 3)[-1] for line in lines[1:]] == [FEAT, "feat(api): g"]
