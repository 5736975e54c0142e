"""What a maintainer may ask of a task: the options every plan starts from.

Apart from plan.py so that tasks.py, imported by `invoke --list`, needs nothing heavier.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReleaseOptions:
    """What a maintainer may ask of `invoke release` and its slices."""

    version: str
    dry_run: bool = False
    allow_empty: bool = False
    sign: bool = False
    image: str = ""
    platform: str = ""
    move_version_tag: bool = False


@dataclass(frozen=True)
class HotfixOptions:
    """What a maintainer may ask of `invoke hotfix` and `hotfix.finish`."""

    version: str
    dry_run: bool = False
    push_branch: bool = False
    skip_patches: bool = False
    keep_branch: bool = False
    sign: bool = False
    image: str = ""
