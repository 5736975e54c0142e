"""What a maintainer may ask of a task: the options every plan starts from.

Apart from plan.py so that tasks.py, imported by `invoke --list`, needs nothing heavier.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskOptions:
    """What a maintainer may ask of every task that releases: the version, a dry run, a signed
    tag, another image repository."""

    version: str
    dry_run: bool = False
    sign: bool = False
    image: str = ""


@dataclass(frozen=True)
class ReleaseOptions(TaskOptions):
    """What a maintainer may ask of `invoke release` and its slices."""

    allow_empty: bool = False
    platform: str = ""
    move_version_tag: bool = False


@dataclass(frozen=True)
class HotfixOptions(TaskOptions):
    """What a maintainer may ask of `invoke hotfix` and `hotfix.finish`."""

    push_branch: bool = False
    skip_patches: bool = False
    keep_branch: bool = False
