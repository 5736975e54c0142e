"""The release configuration, read from `[tool.barycenter.release]` in pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release.errors import ReleaseError

DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
PLATFORM = re.compile(r"linux/[a-z0-9]+(/v[0-9]+)?")


@dataclass(frozen=True)
class ReleaseConfig:
    root: Path
    release_branch: str = "main"
    develop_branch: str = "develop"
    image: str = "ghcr.io/barycenter-oidc/barycenter"
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    dockerfile: str = "Dockerfile"
    cache_dir: str = ".build-cache"
    dist_dir: str = "dist"
    source_url: str = ""
    remote: str = "origin"
    commit_message: str = "chore(release): v{version}"
    # With unreleased commits on main, a hotfix is tagged on its branch instead of merged.
    hotfix_tag_on_branch: bool = False
    # Release-note headings in order, each with the commit types it collects ("*": the rest).
    groups: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("Features", ("feat",)),
        ("Bug Fixes", ("fix",)),
        ("Other Changes", ("*",)),
    )
    breaking_title: str = "⚠ Breaking Changes"
    # Build caches: "local" (a directory per platform under cache-dir), "registry" (a reference
    # per platform: cache-ref with {arch}) or "gha" (GitHub Actions, scope per platform).
    cache: str = "local"
    cache_ref: str = ""
    floating_tags: bool = True
    registry_username: str = ""
    registry_password_env: str = "GITHUB_TOKEN"  # noqa: S105 - a variable name, not a secret
    # The GitHub release: the repository (owner/name) and the REST API's base URL
    # (https://api.github.com, https://HOST/api/v3 for Enterprise Server, or the stand-in).
    github_repository: str = "barycenter-oidc/barycenter"
    github_api_url: str = "https://api.github.com"
    # Seconds one GitHub call may spend waiting out rate limits and retries before giving up.
    github_max_wait: int = 300

    @property
    def cache_path(self) -> Path:
        return self.root / self.cache_dir

    @property
    def dist_path(self) -> Path:
        return self.root / self.dist_dir

    @property
    def dockerfile_path(self) -> Path:
        return self.root / self.dockerfile


KEYS = {
    "release-branch": "release_branch",
    "develop-branch": "develop_branch",
    "image": "image",
    "platforms": "platforms",
    "dockerfile": "dockerfile",
    "cache-dir": "cache_dir",
    "dist-dir": "dist_dir",
    "source-url": "source_url",
    "remote": "remote",
    "commit-message": "commit_message",
    "hotfix-tag-on-branch": "hotfix_tag_on_branch",
    "groups": "groups",
    "breaking-title": "breaking_title",
    "cache": "cache",
    "cache-ref": "cache_ref",
    "floating-tags": "floating_tags",
    "registry-username": "registry_username",
    "registry-password-env": "registry_password_env",
    "github-repository": "github_repository",
    "github-api-url": "github_api_url",
    "github-max-wait": "github_max_wait",
}


def load_config(root: Path, missing_ok: bool = False) -> ReleaseConfig:
    """The configuration of the repository at `root`; defaults if `missing_ok` and it has none."""
    pyproject = root / "pyproject.toml"
    try:
        document = tomllib.loads(pyproject.read_text())
    except FileNotFoundError as error:
        if missing_ok:
            return ReleaseConfig(root=root)
        raise ReleaseError(
            f"no pyproject.toml in {root}", "run from the repository's top level"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise ReleaseError(f"{pyproject} is not valid TOML ({error})", "fix its syntax") from error
    table = document.get("tool", {}).get("barycenter", {}).get("release", {})
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            raise ReleaseError(
                f"unknown key '{key}' in [tool.barycenter.release] of {pyproject}",
                "use one of " + ", ".join(sorted(KEYS)),
            )
        if key == "platforms":
            value = tuple(value)
        elif key == "groups":
            value = tuple((str(title), tuple(types)) for title, types in value.items())
        values[KEYS[key]] = value
    for platform in values.get("platforms", DEFAULT_PLATFORMS):
        if not PLATFORM.fullmatch(str(platform)):
            raise ReleaseError(
                f"platform '{platform}' in [tool.barycenter.release] is not linux/<arch>",
                "write it like linux/amd64, linux/arm64 or linux/arm/v7",
            )
    if values.get("cache", "local") not in ("local", "registry", "gha"):
        raise ReleaseError(
            f"cache '{values['cache']}' in [tool.barycenter.release] is unknown",
            "use local, registry or gha",
        )
    if values.get("cache") == "registry" and "{arch}" not in values.get("cache_ref", ""):
        raise ReleaseError(
            "cache = registry needs cache-ref with {arch}",
            'e.g. cache-ref = "ghcr.io/o/barycenter-cache:{arch}"',
        )
    return ReleaseConfig(root=root, **values)
