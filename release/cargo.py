"""Cargo.toml and Cargo.lock: read the crate's version and bump it, every other byte kept.

`[package] version` is bumped in place; when it is inherited (`version.workspace = true`),
`[workspace.package] version` is. Cargo.lock changes only in the entries of this workspace's
own crates that inherit or carry that version, never a dependency's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import String, StringType

from release.errors import ReleaseError


@dataclass(frozen=True)
class CrateVersion:
    """Where the released version is written and which crates carry it."""

    version: str
    inherited: bool
    crates: tuple[str, ...]


def read_document(path: Path, missing_fix: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text())
    except FileNotFoundError:
        raise ReleaseError(f"{path} is missing", missing_fix) from None
    except tomlkit.exceptions.TOMLKitError as error:
        raise ReleaseError(f"{path} is not valid TOML ({error})", "fix its syntax") from None


def is_inherited(value: Any) -> bool:
    return isinstance(value, dict) and value.get("workspace") is True


def workspace_members(root: Path, manifest: tomlkit.TOMLDocument) -> list[Path]:
    """The member directories, with globs expanded as Cargo does (`crates/*`: every directory
    there holding a Cargo.toml), less `exclude`."""
    workspace = manifest.get("workspace", {})
    excluded = [(root / str(path)).resolve() for path in workspace.get("exclude", [])]
    members: list[Path] = []
    for pattern in workspace.get("members", []):
        text = str(pattern)
        if any(sign in text for sign in "*?["):
            found = sorted(p for p in root.glob(text) if (p / "Cargo.toml").is_file())
        else:
            found = [root / text]
        members += [
            p
            for p in found
            if p not in members
            and not any(e == p.resolve() or e in p.resolve().parents for e in excluded)
        ]
    return members


def crate_version(root: Path) -> CrateVersion:
    # The root is git's top level already: the fix is another repository.
    manifest = read_document(
        root / "Cargo.toml",
        "pass --repo the top level of Barycenter's checkout, which holds pyproject.toml and "
        "Cargo.toml",
    )
    package = manifest.get("package")
    workspace_package = manifest.get("workspace", {}).get("package", {})
    crates: list[str] = []
    if package is not None:
        crates.append(str(package["name"]))
        inherited = is_inherited(package.get("version"))
    else:
        inherited = True
    for member in workspace_members(root, manifest):
        member_manifest = read_document(
            member / "Cargo.toml",
            f"add it, or take {os.path.relpath(member, root)} out of the workspace members in "
            "Cargo.toml",
        )
        member_package = member_manifest.get("package", {})
        if is_inherited(member_package.get("version")):
            crates.append(str(member_package["name"]))
    if inherited:
        if "version" not in workspace_package:
            raise ReleaseError(
                "Cargo.toml inherits the version but [workspace.package] has none",
                "add version to [workspace.package]",
            )
        return CrateVersion(str(workspace_package["version"]), True, tuple(crates))
    if package is None or "version" not in package:
        raise ReleaseError("Cargo.toml has no [package] version", 'add version = "X.Y.Z"')
    return CrateVersion(str(package["version"]), False, tuple(crates))


def version_in_manifest(text: str) -> str | None:
    """The release version a Cargo.toml's text declares, inherited or not."""
    manifest = tomlkit.parse(text)
    package = manifest.get("package", {})
    version = package.get("version")
    if version is not None and not is_inherited(version):
        return str(version)
    workspace_version = manifest.get("workspace", {}).get("package", {}).get("version")
    return None if workspace_version is None else str(workspace_version)


def replaced(old: Any, new: str) -> String:
    """A TOML string holding `new`, with the quoting, spacing and comment of `old`."""
    literal = isinstance(old, String) and old.type == StringType.SLL
    item = tomlkit.string(new, literal=literal)
    if isinstance(old, String):
        item.trivia.__dict__.update(old.trivia.__dict__)
    return item


def bumped_manifest(text: str, new: str) -> str:
    manifest = tomlkit.parse(text)
    package = manifest.get("package")
    if package is not None and not is_inherited(package.get("version")):
        package["version"] = replaced(package["version"], new)
    else:
        table = manifest["workspace"]["package"]
        table["version"] = replaced(table["version"], new)
    return tomlkit.dumps(manifest)


def bumped_lock(text: str, crates: tuple[str, ...], new: str) -> str:
    lock = tomlkit.parse(text)
    found = set()
    for entry in lock.get("package", []):
        # Entries with a source are registry or git dependencies, even if a name matches.
        if entry.get("name") in crates and "source" not in entry:
            entry["version"] = replaced(entry["version"], new)
            found.add(entry["name"])
    missing = sorted(set(crates) - found)
    if missing:
        raise ReleaseError(
            f"Cargo.lock has no entry for {', '.join(missing)}",
            "run cargo generate-lockfile and commit Cargo.lock",
        )
    return tomlkit.dumps(lock)


def bumped_files(root: Path, new: str) -> dict[Path, str]:
    """Cargo.toml and Cargo.lock (when present) with `new` as the version, not written."""
    current = crate_version(root)
    manifest_path, lock_path = root / "Cargo.toml", root / "Cargo.lock"
    edits = {manifest_path: bumped_manifest(manifest_path.read_text(), new)}
    if lock_path.exists():
        edits[lock_path] = bumped_lock(lock_path.read_text(), current.crates, new)
    return edits


def bump(root: Path, new: str) -> list[Path]:
    """Write `new` into Cargo.toml and Cargo.lock; return the files that changed."""
    changed = []
    for path, text in bumped_files(root, new).items():
        if text != path.read_text():
            path.write_text(text)
            changed.append(path)
    return changed


def package_name(text: str) -> str | None:
    """The [package] name a Cargo.toml's text declares (None for a virtual workspace)."""
    name = tomlkit.parse(text).get("package", {}).get("name")
    return None if name is None else str(name)


def locked_versions(text: str, crate: str) -> tuple[str, ...]:
    """The versions a Cargo.lock's text gives `crate` itself (entries without a source)."""
    lock = tomlkit.parse(text)
    return tuple(
        str(entry["version"])
        for entry in lock.get("package", [])
        if entry.get("name") == crate and "source" not in entry
    )
