"""dist/vX/: what lands there and how: file digests, SHA256SUMS (read and written) and atomic
writes. The one home of each, for every step that writes or reads release files."""

from __future__ import annotations

import errno
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from release.errors import ReleaseError

CHECKSUMS = "SHA256SUMS"
CHECKSUM_LINE = re.compile(r"(?P<sha>[0-9a-fA-F]{64}) [ *](?P<name>\S+)")


def provenance_bundle(tag: str) -> str:
    """The Sigstore bundle of the release's provenance: the attest step (or, keyless, the
    workflow's attest-build-provenance) writes it into dist/vX/."""
    return f"barycenter-{tag}.provenance.sigstore.json"


def release_assets(tag: str, archives: Iterable[str]) -> tuple[str, ...]:
    """The GitHub release's assets, exactly: every platform's archive, SHA256SUMS and the
    provenance bundle; nothing else in dist/vX/ (logs, notes) is uploaded."""
    return tuple(sorted({*archives, CHECKSUMS, provenance_bundle(tag)}))


def sha256_of(data: bytes) -> str:
    """The sha256 of bytes in memory, in hex (what SHA256SUMS lists)."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """The sha256 of a file, in hex, read in chunks (archives are large)."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def read_checksums(path: Path) -> dict[str, str]:
    """File name -> sha256 hex, from a SHA256SUMS file."""
    return parse_checksums(path.read_text())


def parse_checksums(text: str) -> dict[str, str]:
    """File name -> sha256 hex (lower case), from the `HEX  NAME` lines of a SHA256SUMS as
    sha256sum writes them (`HEX *NAME` in binary mode), or of a text quoting them (a release
    body): other lines are not checksums and are skipped."""
    found = {}
    for line in text.splitlines():
        match = CHECKSUM_LINE.fullmatch(line.strip())
        if match:
            found[match["name"]] = match["sha"].lower()
    return found


def write_checksums(dist: Path, tag: str) -> None:
    """dist/vX/SHA256SUMS over every platform's archive there, as sha256sum writes it."""
    lines = [
        f"{file_sha256(path)}  {path.name}\n"
        for path in sorted(dist.glob(f"barycenter-{tag}-linux-*.tar.gz"))
    ]
    write_atomically(dist / CHECKSUMS, "".join(lines).encode())


def write_atomically(path: Path, data: bytes | str) -> None:
    """A reader (or a rerun after a crash) sees the old file or the new one, never half."""
    content = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(content)
    except OSError as error:
        partial.unlink(missing_ok=True)
        if error.errno == errno.ENOSPC:
            raise ReleaseError(
                f"the disk holding {path.parent} is full ({len(content)} bytes of {path.name} "
                "did not fit)",
                "free space there, then run the same command again",
            ) from None
        raise
    partial.replace(path)
