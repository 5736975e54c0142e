"""The next version, from the conventional commits since the previous release.

`next_release` is the rule: pure, over versions and parsed commits, table-tested
(tests/test_next_version.py). `propose` reads its facts from a repository once: the releases
reachable from the release branch and the commits since them.

- A breaking change makes the next major, a feature the next minor, anything else (fix, perf,
  or any other commit) the next patch.
- Below 1.0.0, Cargo's reading of SemVer: 0.MINOR is the major, so a breaking change makes the
  next minor (`bump-breaking-below-1 = "minor"`, the default; "major" makes 1.0.0). A feature
  makes the next minor there too (`bump-feature-below-1 = "patch"` for release-plz's rule).
- `--pre LABEL` makes the first `X.Y.Z-LABEL.1` of the next version, or after a pre-release of
  the same next version, its next counter. `--final` releases the current pre-release line's
  version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import semver

from release.commits import Commit
from release.config import ReleaseConfig
from release.errors import ReleaseError
from release.version import TAG_PREFIX, core, is_stable, release_version, tag_name

Level = Literal["major", "minor", "patch"]
LEVELS: tuple[Level, ...] = ("major", "minor", "patch")
# A pre-release label: one SemVer identifier that is not a number, so that `LABEL.N` counts.
LABEL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


@dataclass(frozen=True)
class BumpRules:
    """How a breaking change and a feature bump a 0.x version."""

    breaking_below_1: Literal["minor", "major"] = "minor"
    feature_below_1: Literal["minor", "patch"] = "minor"


@dataclass(frozen=True)
class Proposal:
    version: semver.Version
    # The release the commits were counted from (None: the first release).
    since: semver.Version | None
    level: Level | None
    # The commits that decided the level, newest first.
    deciding: tuple[Commit, ...]
    commits: int
    reason: str


def level_of(commit: Commit) -> Level:
    if commit.breaking:
        return "major"
    if commit.type == "feat":
        return "minor"
    return "patch"


def bump_level(commits: Sequence[Commit]) -> tuple[Level | None, tuple[Commit, ...]]:
    """The highest level the commits call for, and the commits that call for it."""
    for level in LEVELS:
        deciding = tuple(c for c in commits if level_of(c) == level)
        if deciding:
            return level, deciding
    return None, ()


def bumped(version: semver.Version, level: Level, rules: BumpRules) -> semver.Version:
    """The next stable version after the stable `version` for a change of `level`."""
    if version.major == 0 and level == "major" and rules.breaking_below_1 == "minor":
        level = "minor"
    elif version.major == 0 and level == "minor" and rules.feature_below_1 == "patch":
        level = "patch"
    if level == "major":
        return version.bump_major()
    if level == "minor":
        return version.bump_minor()
    return version.bump_patch()


def check_label(label: str) -> None:
    if not label or not set(label) <= LABEL_CHARACTERS or label.isdigit():
        raise ReleaseError(
            f"pre-release label {label!r} is not one SemVer identifier",
            "use letters, digits and dashes, e.g. --pre rc, --pre beta or --pre alpha",
        )


def first_pre(version: semver.Version, label: str) -> semver.Version:
    return version.replace(prerelease=f"{label}.1")


def label_of(version: semver.Version) -> str:
    return str(version.prerelease).split(".", 1)[0]


def next_release(
    releases: Sequence[semver.Version],
    since_stable: Sequence[Commit],
    since_latest: Sequence[Commit],
    manifest: semver.Version | None,
    pre: str = "",
    final: bool = False,
    rules: BumpRules = BumpRules(),
) -> Proposal:
    """The version to release next.

    `releases`: the releases reachable from the release branch; `since_stable` and
    `since_latest`: the commits since the highest stable one and since the highest one of any
    kind (the same when that is stable); `manifest`: Cargo.toml's version, which names the first
    release.
    """
    if pre and final:
        raise ReleaseError("--pre and --final ask for two versions", "pass one of them")
    if pre:
        check_label(pre)
    stable = max((v for v in releases if is_stable(v)), default=None)
    latest = max(releases, default=None)
    level, deciding = bump_level(since_stable)
    if stable is None:
        # The first stable release: Cargo.toml names it, whatever the commits.
        level, deciding = None, ()
        starts = [core(v) for v in (manifest, latest) if v is not None]
        if not starts:
            raise ReleaseError(
                "no release tag, and no Cargo.toml version to start from",
                "pass --version X.Y.Z for the first release",
            )
        target = max(starts)
    else:
        target = bumped(stable, level, rules) if level is not None else stable

    def proposal(version: semver.Version, reason: str) -> Proposal:
        return Proposal(version, latest, level, deciding, len(since_latest), reason)

    if latest is not None and not since_latest and not (final and not is_stable(latest)):
        # Nothing new: the latest release itself, so that a release stopped after its tag was
        # pushed is finished by the same command (and a complete one says "already done").
        return proposal(latest, f"no commit since {tag_name(latest)}: its release, again")
    if latest is None or is_stable(latest):
        if final:
            raise ReleaseError(
                "--final: there is no pre-release line to finalize (the latest release is "
                f"{tag_name(latest) if latest is not None else 'none yet'})",
                "pass --pre LABEL for a pre-release, or leave out --final",
            )
        if pre:
            return proposal(first_pre(target, pre), f"the first {pre} of {target}")
        return proposal(target, "")
    # After a pre-release: its line continues, or becomes stable with --final.
    line, label = core(latest), pre or label_of(latest)
    if final:
        if target > line:
            raise ReleaseError(
                f"--final: the commits since {tag_name(stable) if stable else 'the start'} make "
                f"{target}, above the pre-release line {line}",
                f"release {first_pre(target, label)} first (--pre {label}), or pass --version",
            )
        return proposal(line, f"the stable release of {tag_name(latest)}'s line")
    if target > line:
        return proposal(first_pre(target, label), f"the first {label} of {target}")
    if label == label_of(latest):
        return proposal(latest.bump_prerelease(), f"the next {label} of {line}; --final for {line}")
    candidate = first_pre(line, label)
    if candidate <= latest:
        raise ReleaseError(
            f"--pre {label}: {candidate} would sort below the latest release {tag_name(latest)}",
            f"use --pre {label_of(latest)}, or a label that sorts after it",
        )
    return proposal(candidate, f"the first {label} of {line}")


def reachable_releases(root: Path, tip: str, prefix: str = TAG_PREFIX) -> dict[str, str]:
    """The release tags reachable from `tip`, by tag name, with their commits."""
    from release.history import git

    names = git(root, "tag", "--merged", tip).decode(errors="replace").split()
    found = {}
    for name in names:
        if release_version(name, prefix) is not None:
            found[name] = git(root, "rev-parse", "--verify", f"{name}^{{commit}}").decode().strip()
    return found


def propose(root: Path, config: ReleaseConfig, pre: str = "", final: bool = False) -> Proposal:
    """The next release of the release branch (HEAD where there is none), from its history."""
    from release.cargo import crate_version
    from release.history import git, read_commits
    from release.version import parse_version

    branch = f"refs/heads/{config.release_branch}"
    tip = branch if git(root, "for-each-ref", branch).strip() else "HEAD"
    tags = reachable_releases(root, tip, config.tag_prefix)
    by_version = {release_version(name, config.tag_prefix): commit for name, commit in tags.items()}
    releases = [v for v in by_version if v is not None]
    stable = max((v for v in releases if is_stable(v)), default=None)
    latest = max(releases, default=None)

    def since(version: semver.Version | None) -> list[Commit]:
        excluded = [f"^{by_version[version]}"] if version is not None else []
        return read_commits(root, tip, *excluded)

    since_stable = since(stable)
    since_latest = since_stable if latest == stable else since(latest)
    rules = BumpRules(
        "major" if config.bump_breaking_below_1 == "major" else "minor",
        "patch" if config.bump_feature_below_1 == "patch" else "minor",
    )
    manifest = None
    if stable is None and (root / "Cargo.toml").is_file():
        manifest = parse_version(crate_version(root).version)
    return next_release(releases, since_stable, since_latest, manifest, pre, final, rules)


def describe(proposal: Proposal, listed: int = 10) -> list[str]:
    """What decided the proposal, for the terminal: the rule, then the deciding commits."""
    since = tag_name(proposal.since) if proposal.since is not None else "the start"
    count = f"{proposal.commits} commit{'s' if proposal.commits != 1 else ''} since {since}"
    if proposal.reason:
        lines = [f"next version: {proposal.version} ({proposal.reason}; {count})"]
    elif proposal.level is None:
        lines = [f"next version: {proposal.version} (the first release, Cargo.toml's; {count})"]
    else:
        kind = {"major": "a breaking change", "minor": "a feature", "patch": "fixes and others"}
        lines = [f"next version: {proposal.version} ({kind[proposal.level]}; {count})"]
    for commit in proposal.deciding[:listed]:
        lines.append(f"  {commit.sha[:10]} {commit.subject}")
    if len(proposal.deciding) > listed:
        lines.append(f"  … and {len(proposal.deciding) - listed} more")
    return lines
