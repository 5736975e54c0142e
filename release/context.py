"""The facts of one release, carried between steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import semver

from release.config import ReleaseConfig
from release.git import GitRepo
from release.version import tag_name


def today_utc() -> date:
    return datetime.now(UTC).date()


@dataclass
class ReleaseContext:
    config: ReleaseConfig
    repo: GitRepo
    version: semver.Version
    dry_run: bool = False
    allow_empty: bool = False
    sign: bool = False
    force: bool = False
    keep_branch: bool = False
    push_branch: bool = False
    today: date = field(default_factory=today_utc)
    say: Callable[[str], None] = print
    # Learned by the steps as they run.
    hotfix_base: semver.Version | None = None
    # Images: the repository (config, or --image), the platforms of this run, and the facts
    # of the tagged commit the build stamps into them.
    image: str = ""
    platforms: tuple[str, ...] = ()
    revision: str = ""
    created: str = ""
    source_date_epoch: int = 0
    sources: list[str] = field(default_factory=list)
    planned_children: set[str] = field(default_factory=set)
    image_tags: list[str] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return tag_name(self.version)

    @property
    def remote(self) -> str:
        return self.config.remote

    @property
    def release_branch(self) -> str:
        return self.config.release_branch

    @property
    def commit_message(self) -> str:
        return self.config.commit_message.format(version=self.version)

    @property
    def hotfix_branch(self) -> str:
        return f"hotfix/{self.version}"

    @property
    def base_tag(self) -> str:
        if self.hotfix_base is None:
            raise RuntimeError("the hotfix base is decided by the hotfix preflight")
        return tag_name(self.hotfix_base)
