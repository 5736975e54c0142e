"""Which image tags a published version gets: pure rules, tested as a table.

`vX` always. `latest` only for a stable X that is the highest stable release of all (a hotfix
of an older line published after a newer release must not move it; pre-releases never do).
Floating `X.Y` and `X` only when X is the highest stable release of that line.
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
