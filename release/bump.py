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

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import semver

from release.commits import Commit
from release.config import ReleaseConfig
from release.errors import ReleaseError
from release.version import CARGOS_LIMIT, above_cargos_limit, core, is_stable, tag_name

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
    # The release the counted commits follow (None: the first release).
    since: semver.Version | None
    level: Level | None
    # The commits that decided the level, newest first, and how many were counted.
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


# `vX.Y.Z-LABEL.N` must stay a valid image tag (at most 128 characters) with room to spare.
MAX_LABEL = 40


def check_label(label: str) -> None:
    if not label or not set(label) <= LABEL_CHARACTERS or label.isdigit():
        raise ReleaseError(
            f"pre-release label {label!r} is not one SemVer identifier",
            "use letters, digits and dashes, e.g. --pre rc, --pre beta or --pre alpha",
        )
    if len(label) > MAX_LABEL:
        raise ReleaseError(
            f"pre-release label {label[:12]}... has {len(label)} characters",
            f"use at most {MAX_LABEL}, e.g. --pre rc",
        )


def first_pre(version: semver.Version, label: str) -> semver.Version:
    return version.replace(prerelease=f"{label}.1")


def label_of(version: semver.Version) -> str:
    return str(version.prerelease).split(".", 1)[0]


def untaken(
    version: semver.Version, level: Level | None, taken: Collection[semver.Version]
) -> semver.Version:
    """`version`, or the next one at its level that no tag names yet: a release made on
    another branch (a hotfix tagged on its own branch) is never proposed again."""
    while version in taken:
        if version.prerelease is not None:
            version = version.bump_prerelease()
        elif level == "major":
            version = version.bump_major()
        elif level == "minor":
            version = version.bump_minor()
        else:
            version = version.bump_patch()
    return version


def next_release(
    releases: Sequence[semver.Version],
    since_stable: Sequence[Commit],
    since_latest: Sequence[Commit],
    manifest: semver.Version | None,
    pre: str | None = None,
    final: bool = False,
    rules: BumpRules = BumpRules(),
    taken: Collection[semver.Version] = (),
) -> Proposal:
    """The version to release next.

    `releases`: the releases reachable from the release branch; `since_stable` and
    `since_latest`: the commits the notes would list since the highest stable one and since
    the highest one of any kind (the same when that is stable); `manifest`: Cargo.toml's
    version, which names the first release; `taken`: every version a tag names anywhere.
    """
    if pre is not None and final:
        raise ReleaseError("--pre and --final ask for two versions", "pass one of them")
    if pre is not None:
        check_label(pre)
    stable = max((v for v in releases if is_stable(v)), default=None)
    latest = max(releases, default=None)
    level, deciding = bump_level(since_stable)
    taken = set(taken) | set(releases)

    def proposal(version: semver.Version, reason: str) -> Proposal:
        return Proposal(
            untaken(version, level, taken), stable, level, deciding, len(since_stable), reason
        )

    def again(version: semver.Version) -> Proposal:
        # Nothing new: that release itself, so that a release stopped after its tag was pushed
        # is finished by the same command (and a complete one says "already done").
        reason = f"no commit since {tag_name(version)}: its release, again"
        if not is_stable(version):
            reason += f"; --final for {core(version)}"
        return Proposal(version, stable, level, deciding, len(since_stable), reason)

    if latest is None:
        return first_release(manifest, pre, final, len(since_stable))
    if stable is None:
        # Pre-releases of the first stable version: Cargo.toml or their line names it.
        level, deciding = None, ()
        target = max(core(v) for v in (manifest, latest) if v is not None)
    else:
        target = bumped(stable, level, rules) if level is not None else stable
    nothing_new = not since_latest
    if is_stable(latest):
        if final and nothing_new:
            return again(latest)  # a --final run stopped after its tag push
        if final:
            raise ReleaseError(
                f"--final: there is no pre-release line to finalize (the latest release is "
                f"{tag_name(latest)})",
                "pass --pre LABEL for a pre-release, or leave out --final",
            )
        if nothing_new and pre is None:
            return again(latest)
        if nothing_new:
            raise ReleaseError(
                f"--pre {pre}: no commit since {tag_name(latest)}, nothing to pre-release",
                "commit the change first",
            )
        if pre is not None:
            return proposal(first_pre(target, pre), f"the first {pre} of {target}")
        return proposal(target, "")
    # After a pre-release: its line continues, or becomes stable with --final.
    line, label = core(latest), pre if pre is not None else label_of(latest)
    if final:
        if target > line:
            raise ReleaseError(
                f"--final: the commits since {tag_name(stable) if stable else 'the start'} make "
                f"{target}, above the pre-release line {line}",
                f"release {first_pre(target, label)} first (--pre {label}), or pass --version",
            )
        return proposal(line, f"the stable release of {tag_name(latest)}'s line")
    if nothing_new and label == label_of(latest):
        return again(latest)
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


def first_release(
    manifest: semver.Version | None, pre: str | None, final: bool, commits: int
) -> Proposal:
    """No release yet: Cargo.toml's version is the first, as the manifest says it."""
    if manifest is None:
        raise ReleaseError(
            "no release tag, and no Cargo.toml version to start from",
            "pass --version X.Y.Z for the first release",
        )
    if final:
        raise ReleaseError(
            "--final: there is no pre-release line to finalize (nothing is released yet)",
            "leave out --final: the first release is Cargo.toml's version",
        )
    version, reason = manifest, "the first release, Cargo.toml's"
    if pre is not None and (manifest.prerelease is None or label_of(manifest) != pre):
        version = first_pre(core(manifest), pre)
        if version < manifest:
            # prepare refuses a Cargo.toml above the version: the manifest must move first.
            raise ReleaseError(
                f"--pre {pre}: Cargo.toml is at {manifest}, above {version}",
                f'set version = "{version}" in Cargo.toml and commit it, or leave out --pre',
            )
        reason = f"the first {pre} of {core(manifest)}"
    return Proposal(version, None, None, (), commits, reason)


def propose(
    root: Path, config: ReleaseConfig, pre: str | None = None, final: bool = False
) -> Proposal:
    """The next release of the release branch (HEAD where there is none), from its history:
    the commits `release.notes` would list, since the releases main reaches."""
    from release.cargo import crate_version
    from release.git import read as git
    from release.history import git_dir, read_commits, release_tags, tip_commit
    from release.notes import groups_of

    git_dir(root)  # refuses a shallow clone, whose history would be cut
    branch = f"refs/heads/{config.release_branch}"
    tip = branch if git(root, "for-each-ref", branch).strip() else "HEAD"
    tip_commit(root, tip)  # refuses a repository with no commit yet, or an unborn HEAD
    # Every release tag, read as the notes read them: those main reaches count; all are taken.
    releases = release_tags(root, config.tag_prefix)
    merged = set(git(root, "tag", "--merged", tip).decode(errors="replace").split())
    taken = set(releases)
    reached = {v: r.commit for v, r in releases.items() if r.tag in merged}
    stable = max((v for v in reached if is_stable(v)), default=None)
    latest = max(reached, default=None)
    bookkeeping = groups_of(config).bookkeeping

    def since(version: semver.Version | None) -> list[Commit]:
        excluded = [f"^{reached[version]}"] if version is not None else []
        commits = read_commits(root, tip, *excluded)
        return [c for c in commits if c.listed and not bookkeeping(c.subject)]

    since_stable = since(stable)
    since_latest = since_stable if latest == stable else since(latest)
    manifest = None
    if stable is None and (root / "Cargo.toml").is_file():
        manifest = manifest_version(crate_version(root).version)
    proposal = next_release(
        list(reached), since_stable, since_latest, manifest, pre, final, rules_of(config), taken
    )
    if above_cargos_limit(proposal.version):
        raise ReleaseError(
            f"the next release would be {proposal.version}, which has a number above "
            f"{CARGOS_LIMIT} (Cargo's limit)",
            "pass the version to release yourself: --version X.Y.Z",
        )
    return proposal


def rules_of(config: ReleaseConfig) -> BumpRules:
    return BumpRules(
        "major" if config.bump_breaking_below_1 == "major" else "minor",
        "patch" if config.bump_feature_below_1 == "patch" else "minor",
    )


def manifest_version(text: str) -> semver.Version:
    from release.version import parse_version

    try:
        return parse_version(text)
    except ReleaseError as error:
        raise ReleaseError(f"Cargo.toml's {error.problem}", error.fix) from None


def describe(proposal: Proposal, listed: int = 10) -> list[str]:
    """What decided the proposal, for the terminal: the rule, then the deciding commits."""
    plural = "s" if proposal.commits != 1 else ""
    if proposal.since is None:
        count = f"{proposal.commits} commit{plural} in all"
    else:
        count = f"{proposal.commits} commit{plural} since {tag_name(proposal.since)}"
    if proposal.reason:
        lines = [f"next version: {proposal.version} ({proposal.reason}; {count})"]
    elif proposal.level is None:
        lines = [f"next version: {proposal.version} (no change since; {count})"]
    else:
        kind = {"major": "a breaking change", "minor": "a feature", "patch": "fixes and others"}
        lines = [f"next version: {proposal.version} ({kind[proposal.level]}; {count})"]
    for commit in proposal.deciding[:listed]:
        lines.append(f"  {commit.sha[:10]} {commit.subject}")
    if len(proposal.deciding) > listed:
        lines.append(f"  … and {len(proposal.deciding) - listed} more")
    return lines
