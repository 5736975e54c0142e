"""Which image tags a published version gets: pure rules, tested as a table.

`vX` always. `latest` only for a stable X that is the highest stable release of all (a hotfix
of an older line published after a newer release must not move it; pre-releases never do).
Floating `X.Y` and `X` only when X is the highest stable release of that line. On rollback,
each floating tag X held goes back to the highest other stable release of its scope.

The one home of these decisions: plan.py applies them to the facts it reads, and the steps
(publish, github's make_latest, rollback, the checklist) read the results from the Plan.
"""

from __future__ import annotations

from collections.abc import Iterable

import semver

from release.version import is_stable, tag_name


def image_tags(
    version: semver.Version, releases: Iterable[semver.Version], floating: bool = True
) -> list[str]:
    tags = [tag_name(version)]
    if not is_stable(version):
        return tags
    stable = [v for v in releases if is_stable(v)] + [version]
    if version == max(stable):
        tags.append("latest")
    if floating:
        if version == max(
            v for v in stable if (v.major, v.minor) == (version.major, version.minor)
        ):
            tags.append(f"{version.major}.{version.minor}")
        if version == max(v for v in stable if v.major == version.major):
            tags.append(f"{version.major}")
    return tags


def floating_candidates(version: semver.Version) -> list[str]:
    """Every floating tag a version could get (`latest`, X.Y, X), whether the rules give it or
    not: what the checklist looks at to see that none it was not given points at it."""
    return ["latest", f"{version.major}.{version.minor}", f"{version.major}"]


def successors(
    version: semver.Version, others: Iterable[semver.Version], floating: Iterable[str]
) -> dict[str, semver.Version | None]:
    """Rollback: who holds each floating tag X held (latest, X.Y or X) once X is gone, among
    the other releases: the highest stable release of the tag's scope, or nobody."""
    stable = [v for v in others if is_stable(v) and v != version]
    found: dict[str, semver.Version | None] = {}
    for tag in floating:
        scope = stable
        if tag != "latest":
            parts = [int(p) for p in tag.split(".")]
            scope = [v for v in stable if [v.major, v.minor][: len(parts)] == parts]
        found[tag] = max(scope, default=None)
    return found
