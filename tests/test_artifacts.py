"""dist/'s archives and checksums, and the index checks: pure, no docker."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

from release.steps.build import deterministic_tar_gz, write_checksums
from release.steps.publish import child_digests, index_platforms


def test_an_archive_is_the_same_bytes_for_the_same_binary() -> None:
    first = deterministic_tar_gz(b"\x7fELF binary", "barycenter", 1_700_000_000)
    again = deterministic_tar_gz(b"\x7fELF binary", "barycenter", 1_700_000_000)
    other = deterministic_tar_gz(b"\x7fELF other", "barycenter", 1_700_000_000)
    assert first == again != other
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as archive:
        (member,) = archive.getmembers()
        assert (member.name, member.mode, member.mtime, member.uid, member.gid) == (
            "barycenter",
            0o755,
            1_700_000_000,
            0,
            0,
        )
        assert (member.uname, member.gname) == ("root", "root")
        extracted = archive.extractfile(member)
        assert extracted is not None and extracted.read() == b"\x7fELF binary"
    # The gzip header carries the commit time, not the time of writing.
    assert int.from_bytes(gzip.compress(b"", mtime=1_700_000_000)[4:8], "little") == int.from_bytes(
        first[4:8], "little"
    )


def test_checksums_list_this_releases_archives_only(tmp_path: Path) -> None:
    (tmp_path / "barycenter-v1.2.0-linux-arm64.tar.gz").write_bytes(b"arm")
    (tmp_path / "barycenter-v1.2.0-linux-amd64.tar.gz").write_bytes(b"amd")
    (tmp_path / "barycenter-v1.1.0-linux-amd64.tar.gz").write_bytes(b"old")
    write_checksums(tmp_path, "v1.2.0")
    assert (tmp_path / "SHA256SUMS").read_text() == (
        f"{hashlib.sha256(b'amd').hexdigest()}  barycenter-v1.2.0-linux-amd64.tar.gz\n"
        f"{hashlib.sha256(b'arm').hexdigest()}  barycenter-v1.2.0-linux-arm64.tar.gz\n"
    )
    assert not list(tmp_path.glob(".*partial"))


INDEX = {
    "manifests": [
        {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": "sha256:c", "platform": {"os": "unknown", "architecture": "unknown"}},
    ]
}


def test_an_index_lists_its_platforms_without_attestation_manifests() -> None:
    assert index_platforms(INDEX) == ["linux/amd64", "linux/arm/v7"]
    assert index_platforms({}) == []


def test_an_index_is_compared_by_its_children() -> None:
    assert child_digests(INDEX) == {"sha256:a", "sha256:b", "sha256:c"}
    assert child_digests({"manifests": None}) == set()
