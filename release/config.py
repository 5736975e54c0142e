"""The release configuration, read from `[tool.barycenter.release]` in pyproject.toml."""

from __future__ import annotations

import os
import re
import tomllib
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from release.errors import ReleaseError

DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
PLATFORM = re.compile(r"linux/[a-z0-9]+(/v[0-9]+)?")
# Release commits of other tools, left out of release notes (regexes searched in the subject,
# after a leading `[TICKET-1]` or `TICKET-1:` that a commit-msg hook may add). Each names a
# version, so that `chore: release notes for the docs` stays news.
DEFAULT_SKIP_COMMITS = (
    # release-please, cargo-release, git-cliff: `chore: release 0.2.0`,
    # `chore(main): release 17.11.1 (#2864)`, `chore(release): prepare for v2.0.4`,
    # `chore: Release my-crate version 0.1.0`, `chore: prepare Tokio v1.2.0 release (#9)`
    r"(?i)^chore(\([^)]*\))?: (release|prepare)( for)?( [\w.@/-]+)*? v?\d+\.\d+\.\d+\S*"
    r"( release)?( \(#\d+\))?$",
    # semantic-release: `chore(release): 1.2.3 [skip ci]`
    r"^chore\(release\): v?\d+\.\d+\.\d+\S*( \[skip ci\])?$",
    # commitizen: `bump: version 4.8.0 → 4.8.1`
    r"^bump: version \S+ (→|->) \S+$",
    # npm version and the like: a bare `8.0.0`, `v8.0.0 (#123)`
    r"^v?\d+\.\d+\.\d+\S*( \(#\d+\))?$",
    # `Release v1.2.3`, `prepare v0.2.0 release (#9)`
    r"(?i)^(release|prepare)( for)? v?\d+\.\d+\.\d+\S*( release)?( \(#\d+\))?$",
    # cargo-release before 0.22: `(cargo-release) version 0.1.0`
    r"^\(cargo-release\) (version|start next development iteration) \S+$",
)


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
    # How the release commit reaches the release branch: "push" (pushed with its tag) or
    # "pull-request" (on release/vX, proposed by a pull request; tagged once it is merged).
    release_via: str = "push"
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
    # The offline attestation key pair (invoke release.keygen), relative to the repository, and
    # the variable holding the private key's password. In GitHub Actions without the key, the
    # attestation is keyless (actions/attest-build-provenance).
    attestation_key: str = "cosign.key"
    attestation_public_key: str = "cosign.pub"
    attestation_password_env: str = "COSIGN_PASSWORD"  # noqa: S105 - a variable name

    def release_commit_message(self, version: object) -> str:
        return self.commit_message.format(version=version)

    # Release tags are `<tag-prefix><semver>`: "v" (v1.2.0), "" (1.2.0), "name-v" (monorepos).
    tag_prefix: str = "v"
    # Regexes for other tools' release commits, left out of the notes (commit-message always is).
    skip_commits: tuple[str, ...] = DEFAULT_SKIP_COMMITS
    # The GitHub release: the repository (owner/name) and the REST API's base URL
    # (https://api.github.com, https://HOST/api/v3 for Enterprise Server, or the stand-in).
    github_repository: str = "barycenter-oidc/barycenter"
    github_api_url: str = "https://api.github.com"
    # Seconds one GitHub call may spend waiting out rate limits and retries before giving up.
    github_max_wait: int = 300
    # Seconds the registry may leave one request (or one cosign command) unanswered before the
    # step stops; a registry that hangs must not hang the release.
    registry_timeout: int = 120
    # The next version from the commits (`invoke release` without --version), below 1.0.0: a
    # breaking change makes the next "minor" (Cargo's reading of SemVer) or the "major" 1.0.0;
    # a feature the next "minor" or, as release-plz does, the next "patch".
    bump_breaking_below_1: str = "minor"
    bump_feature_below_1: str = "minor"
    # Where notes name people ("by @alice in #12", New Contributors) when a GitHub token is
    # there: "github" (the release body), "tag", and on request "notes" (release.notes, which
    # then asks GitHub) and "changelog".
    credit_people_in: tuple[str, ...] = ("github", "tag")
    # Logins never credited (besides every `…[bot]`), and the GraphQL calls the credits may
    # make for one release (each asks for 50 commits); past it the notes go without logins.
    bots: tuple[str, ...] = ("dependabot", "renovate", "github-actions")
    credit_calls: int = 20

    @property
    def cache_path(self) -> Path:
        return self.root / self.cache_dir

    @property
    def dist_path(self) -> Path:
        return self.root / self.dist_dir

    @property
    def dockerfile_path(self) -> Path:
        return self.root / self.dockerfile


def key_of(name: str) -> str:
    return name.replace("_", "-")


# Every field but `root` is a key of [tool.barycenter.release], spelt with dashes.
KEYS = {key_of(f.name): f.name for f in fields(ReleaseConfig) if f.name != "root"}
TABLE = "[tool.barycenter.release]"
# Branch and remote names reach git as operands: a leading dash would make them options.
GIT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]*")


def typed(key: str, value: Any, kind: Any) -> Any:
    """`value` as the field's type, or a ReleaseError naming the key and the expected shape."""
    where = f"{key} in {TABLE}"
    if kind is bool:
        if not isinstance(value, bool):
            raise ReleaseError(
                f"{where} is {value!r}, not a boolean", f"write {key} = true or false"
            )
        return value
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ReleaseError(f"{where} is {value!r}, not a whole number", f"write {key} = 300")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ReleaseError(f"{where} is {value!r}, not a string", f'write {key} = "..."')
        return value
    if key == "groups":
        if not isinstance(value, dict) or not all(
            isinstance(types, list) and all(isinstance(t, str) for t in types)
            for types in value.values()
        ):
            raise ReleaseError(
                f"{where} must be a table of heading = [commit types]",
                'write [tool.barycenter.release.groups] then "Features" = ["feat"]',
            )
        return tuple((str(title), tuple(types)) for title, types in value.items())
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ReleaseError(
                f"{where} is {value!r}, not a list of strings",
                f'write {key} = ["..."], e.g. {key} = ["linux/amd64", "linux/arm64"]',
            )
        return tuple(value)
    raise ReleaseError(f"{where} has a type this version cannot read", "remove it")


OVERRIDES = "BARYCENTER_RELEASE_CONFIG"


def overrides(sources: dict[str, str] | None = None) -> dict[str, Any]:
    """Keys from the TOML files $BARYCENTER_RELEASE_CONFIG names, over pyproject.toml's: how a
    rehearsal points the release at the local stack, or CI picks its cache kind, without a
    commit. Several files are separated by os.pathsep (`:`), the later winning key by key: the
    release workflow puts its own file first, so a runner's (the rehearsal's) has the last word.
    `sources`, when given, is told which file each key came from (where a bad value is fixed)."""
    names = [name for name in os.environ.get(OVERRIDES, "").split(os.pathsep) if name]
    merged: dict[str, Any] = {}
    for name in names:
        try:
            document = tomllib.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ReleaseError(
                f"${OVERRIDES} names {name}, which cannot be read as TOML ({error})",
                f"fix the file, or take it out of {OVERRIDES}",
            ) from None
        table = document.get("tool", {}).get("barycenter", {}).get("release", document)
        if isinstance(table, dict):
            merged.update(table)
            if sources is not None:
                sources.update(dict.fromkeys(table, f"{name} (named by ${OVERRIDES})"))
    return merged


def load_config(
    root: Path, missing_ok: bool = False, committed: bytes | None = None
) -> ReleaseConfig:
    """The configuration of the repository at `root`; defaults if `missing_ok` and it has none.
    `committed`: pyproject.toml's bytes as HEAD holds them, for a bare repository (b"" when
    HEAD has none)."""
    pyproject = root / "pyproject.toml"
    try:
        if committed is not None:
            if not committed:
                raise FileNotFoundError(pyproject)
            document = tomllib.loads(committed.decode("utf-8"))
        else:
            document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if not missing_ok:
            # The root is already git's top level: the fix is another repository.
            raise ReleaseError(
                f"no pyproject.toml in {root}",
                "pass --repo the top level of Barycenter's checkout, which holds pyproject.toml "
                "and Cargo.toml",
            ) from None
        document = {}  # the defaults, and still the overrides below
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ReleaseError(f"{pyproject} is not valid TOML ({error})", "fix its syntax") from None
    except OSError as error:
        raise ReleaseError(f"cannot read {pyproject} ({error.strerror})", "check it") from None
    table = document.get("tool", {}).get("barycenter", {}).get("release", {})
    if not isinstance(table, dict):
        raise ReleaseError(f"{TABLE} in {pyproject} is not a table", f"write it as {TABLE}")
    sources: dict[str, str] = {}
    table = {**table, **overrides(sources)}
    hints = typing.get_type_hints(ReleaseConfig)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            raise ReleaseError(
                f"unknown key '{key}' in {TABLE} of {pyproject}",
                "use one of " + ", ".join(sorted(KEYS)),
            )
        values[KEYS[key]] = typed(key, value, hints[KEYS[key]])
    config = ReleaseConfig(root=root, **values)
    validate(config, lambda key: sources.get(key, str(pyproject)))
    return config


# An image repository as the distribution spec names one: [HOST[:PORT]/]PATH, the path in
# lowercase; no tag nor digest (the release adds its own tags).
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REPOSITORY = re.compile(
    rf"(?:(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?"
    rf"{_PATH_PART}(?:/{_PATH_PART})*"
)


def check_image_repository(image: str, given_as: str) -> None:
    """Refuses, with the fix, an `image` that cannot name the release's image repository."""
    if len(image) <= 255 and IMAGE_REPOSITORY.fullmatch(image):
        return
    raise ReleaseError(
        f"{given_as} {image!r} is not an image repository",
        "write it as HOST[:PORT]/PATH, the path in lowercase, with no tag nor digest (the "
        "release adds its own), e.g. ghcr.io/barycenter-oidc/barycenter",
    )


def validate(config: ReleaseConfig, source: Callable[[str], str]) -> None:
    """Values that have the right type but cannot work. `source(key)`: the file the key's
    value was read from, where the message tells to fix it."""
    if not config.platforms:
        raise ReleaseError(f"platforms in {TABLE} is empty", 'e.g. platforms = ["linux/amd64"]')
    check_image_repository(config.image, f"image in {source('image')}")
    for platform in config.platforms:
        if not PLATFORM.fullmatch(platform):
            raise ReleaseError(
                f"platform '{platform}' in {TABLE} is not linux/<arch>",
                "write it like linux/amd64, linux/arm64 or linux/arm/v7",
            )
    for key in ("remote", "release_branch", "develop_branch"):
        name = getattr(config, key)
        if (name or key != "develop_branch") and (
            not GIT_NAME.fullmatch(name) or ".." in name or name.endswith((".lock", "/", "."))
        ):
            raise ReleaseError(
                f"{key_of(key)} = {name!r} in {TABLE} is not a usable git name",
                "use a plain name such as origin, main or develop",
            )
    try:
        message = config.release_commit_message("1.2.3")
    except (KeyError, IndexError, ValueError, AttributeError):
        raise ReleaseError(
            f"commit-message = {config.commit_message!r} in {TABLE} has a placeholder other "
            "than {version}",
            'use {version} only, e.g. "chore(release): v{version}"',
        ) from None
    if not message.strip():
        raise ReleaseError(
            f"commit-message in {TABLE} is empty", 'e.g. "chore(release): v{version}"'
        )
    if not 1 <= config.registry_timeout <= 86400:
        raise ReleaseError(
            f"registry-timeout = {config.registry_timeout} in {TABLE} is not 1 to 86400 seconds",
            "write registry-timeout = 120 (seconds)",
        )
    for key, allowed in (
        ("release_via", ("push", "pull-request")),
        ("bump_breaking_below_1", ("minor", "major")),
        ("bump_feature_below_1", ("minor", "patch")),
    ):
        if getattr(config, key) not in allowed:
            written = [f'{key_of(key)} = "{value}"' for value in allowed]
            raise ReleaseError(
                f"{key_of(key)} = {getattr(config, key)!r} in {TABLE} of "
                f"{source(key_of(key))} is unknown",
                f"write {' or '.join(written)} there",
            )
    places = ("github", "notes", "tag", "changelog")
    for place in config.credit_people_in:
        if place not in places:
            raise ReleaseError(
                f"credit-people-in names {place!r} in {TABLE}, which is no place notes appear",
                f"use some of {', '.join(repr(p) for p in places)} (or [] for none)",
            )
    if config.cache not in ("local", "registry", "gha"):
        raise ReleaseError(
            f"cache '{config.cache}' in {TABLE} is unknown", "use local, registry or gha"
        )
    if config.cache == "registry" and "{arch}" not in config.cache_ref:
        raise ReleaseError(
            "cache = registry needs cache-ref with {arch}",
            'e.g. cache-ref = "ghcr.io/o/barycenter-cache:{arch}"',
        )
