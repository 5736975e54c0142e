"""A pinned npm package, fetched straight from the npm registry (npm itself need not be
installed) and checked against the sha512 `integrity` the registry publishes for that version.

The tarball is cached outside the repository (`$BARYCENTER_CACHE`, else
`$XDG_CACHE_HOME/barycenter`, else `~/.cache/barycenter`) and checked again each time it is
used. GitHub publishes the descriptions of both its APIs this way: the REST API's OpenAPI
description in @octokit/openapi, the GraphQL schema in @octokit/graphql-schema."""

from __future__ import annotations

import base64
import hashlib
import os
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class PackageError(Exception):
    """The package could not be had, or is not the pinned one."""


def cache_dir() -> Path:
    if os.environ.get("BARYCENTER_CACHE"):
        return Path(os.environ["BARYCENTER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "barycenter"


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as partial:
        partial.write(data)
    Path(partial.name).replace(path)


@dataclass(frozen=True)
class NpmPackage:
    name: str  # "@octokit/openapi"
    version: str
    integrity: str  # the registry's dist.integrity for that version

    @property
    def tarball_url(self) -> str:
        basename = self.name.rpartition("/")[2]
        return f"https://registry.npmjs.org/{self.name}/-/{basename}-{self.version}.tgz"

    @property
    def cached_name(self) -> str:
        return self.name.removeprefix("@").replace("/", "-") + f"-{self.version}"

    def tarball(self, timeout: float = 120.0) -> Path:
        """The pinned tarball, downloaded once and checked each time it is used."""
        path = cache_dir() / f"{self.cached_name}.tgz"
        if path.exists() and integrity_of(path.read_bytes()) == self.integrity:
            return path
        try:
            # An https URL built from the pinned name: no other scheme can reach it.
            with urllib.request.urlopen(self.tarball_url, timeout=timeout) as answer:  # noqa: S310
                data = answer.read()
        except OSError as error:
            raise PackageError(f"cannot download {self.tarball_url} ({error})") from error
        if integrity_of(data) != self.integrity:
            raise PackageError(
                f"{self.tarball_url} does not match the pinned integrity {self.integrity}"
            )
        write_atomically(path, data)
        return path

    def read(self, name: str) -> bytes:
        """One file of the package, e.g. "package/schema.json"."""
        with tarfile.open(self.tarball()) as archive:
            try:
                found = archive.extractfile(name)
            except KeyError:
                found = None
            if found is None:
                raise PackageError(f"{name} is missing from {self.name} {self.version}")
            return found.read()
