"""Version rules: pure functions over SemVer 2.0.0 versions and release tag names, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable

import semver

from release.errors import ReleaseError

TAG_PREFIX = "v"
# Whitespace or shell metacharacters are refused before SemVer parsing, so the reason says so.
UNSAFE = re.compile(r"[\s;&|<>`$\\'\"(){}\[\]*?!#~]")


def parse_version(text: str) -> semver.Version:
    """`1.2.0` or `v1.2.0` -> Version; anything else is refused with the fix."""
    if not text:
        raise ReleaseError("no version given", "pass --version X.Y.Z, e.g. --version 1.2.0")
    if UNSAFE.search(text):
        raise ReleaseError(
            f"version {text!r} contains whitespace or shell metacharacters",
            "pass a SemVer version such as 1.2.0 or 1.2.0-rc.1",
        )
    bare = text[len(TAG_PREFIX) :] if text.startswith(TAG_PREFIX) else text
    try:
        version = semver.Version.parse(bare)
    except ValueError:
        raise ReleaseError(
            f"version {text!r} is not SemVer 2.0.0",
            "use MAJOR.MINOR.PATCH with an optional -pre-release, e.g. 1.2.0 or 1.2.0-rc.1",
        ) from None
    if above_cargos_limit(version):
        raise ReleaseError(
            f"version {text!r} has a number above {CARGOS_LIMIT}",
            "Cargo requires each of MAJOR.MINOR.PATCH to fit in 64 bits: use a smaller one",
        )
    if version.build:
        raise ReleaseError(
            f"version {text!r} carries build metadata '+{version.build}'",
            "drop the +part: image tags cannot hold '+'",
        )
    return version


# The largest MAJOR, MINOR or PATCH Cargo takes: it holds each in 64 bits.
CARGOS_LIMIT = 2**64 - 1


def above_cargos_limit(version: semver.Version) -> bool:
    """Whether MAJOR, MINOR or PATCH is past CARGOS_LIMIT."""
    return max(version.major, version.minor, version.patch) > CARGOS_LIMIT


def tag_name(version: semver.Version, prefix: str = TAG_PREFIX) -> str:
    return f"{prefix}{version}"


def release_version(tag: str, prefix: str = TAG_PREFIX) -> semver.Version | None:
    """The version a release tag names, or None for tags that are not `<prefix><semver>`."""
    if not tag.startswith(prefix):
        return None
    try:
        version = semver.Version.parse(tag[len(prefix) :])
    except ValueError:
        return None
    return None if version.build else version


def release_versions(tags: Iterable[str], prefix: str = TAG_PREFIX) -> list[semver.Version]:
    """The release versions among tag names, in ascending SemVer order."""
    found = (release_version(tag, prefix) for tag in tags)
    return sorted(v for v in found if v is not None)


def is_stable(version: semver.Version) -> bool:
    return version.prerelease is None


def core(version: semver.Version) -> semver.Version:
    return semver.Version(version.major, version.minor, version.patch)


def new_version_problems(
    version: semver.Version,
    reachable: Iterable[semver.Version],
    existing_tags: Iterable[str],
) -> list[str]:
    """Why `version` cannot be released, given the releases reachable from the release branch
    and every tag that exists locally or on the remote; empty when it can."""
    problems = []
    tags = set(existing_tags)
    if tag_name(version) in tags:
        problems.append(
            f"tag {tag_name(version)} already exists: released tags are immutable; "
            "choose the next version"
        )
    highest = max(reachable, default=None)
    if highest is not None and version <= highest:
        problems.append(
            f"version {version} is not greater than {highest}, the highest release on the "
            "release branch: choose a higher version"
        )
    if version.prerelease is not None:
        same_core = [v for v in release_versions(tags) if v.prerelease and core(v) == core(version)]
        newest = max(same_core, default=None)
        if newest is not None and version <= newest:
            problems.append(
                f"pre-release {version} is not greater than the existing pre-release {newest}: "
                f"use a later one, e.g. {newest.bump_prerelease()}"
            )
    return problems


def latest_of_line(version: semver.Version, tags: Iterable[str]) -> semver.Version | None:
    """The highest stable release below `version` with its major.minor: a hotfix's base."""
    line = [
        v
        for v in release_versions(tags)
        if is_stable(v) and (v.major, v.minor) == (version.major, version.minor) and v < version
    ]
    return line[-1] if line else None


def hotfix_base(
    version: semver.Version, tags: Iterable[str], force: bool = False
) -> semver.Version:
    """The release a hotfix starts from: the highest stable release of X's major.minor line."""
    if not is_stable(version):
        raise ReleaseError(
            f"hotfix {version} is a pre-release", "a hotfix is a stable patch such as 1.2.1"
        )
    tags = set(tags)
    if tag_name(version) in tags:
        raise ReleaseError(
            f"tag {tag_name(version)} already exists", "choose the next patch of the line"
        )
    base = latest_of_line(version, tags)
    stable = [v for v in release_versions(tags) if is_stable(v)]
    # X.Y.0 can still be released only above every release (a line of the future).
    line = semver.Version(version.major, version.minor, 0)
    releasable = not stable or line > max(stable)
    existing = [f"hotfix an existing line, such as {max(stable).bump_patch()}"] if stable else []
    if version.patch == 0:
        ways = [f"release it with invoke release --version {line}"] if releasable else []
        raise ReleaseError(
            f"hotfix {version} is not a patch: a .0 version is a release",
            ", or ".join([*ways, *existing]),
        )
    if base is None:
        ways = [f"release {line} first"] if releasable else []
        raise ReleaseError(
            f"there is no {version.major}.{version.minor} release line to hotfix",
            ", or ".join([*ways, *existing]),
        )
    newer = [
        v
        for v in release_versions(tags)
        if (v.major, v.minor) == (version.major, version.minor) and v > version
    ]
    if newer:
        raise ReleaseError(
            f"{version.major}.{version.minor} already has release {newer[-1]}, above {version}",
            f"hotfix the line's next patch, {newer[-1].bump_patch()}",
        )
    if version.patch != base.patch + 1 and not force:
        raise ReleaseError(
            f"hotfix {version} skips patches after {base}",
            f"use {base.bump_patch()}, or pass --force to skip on purpose",
        )
    return base
