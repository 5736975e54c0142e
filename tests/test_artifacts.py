"""dist/'s archives and checksums, and the index checks: no docker."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from release.archives import deterministic_tar_gz
from release.config import ReleaseConfig
from release.dist import write_checksums
from release.oci import child_digests, index_platforms
from release.plan import Plan
from release.runner import problems_of
from release.steps import State, Status
from release.steps.build import WriteChecksums
from tests.github_support import History, plan_for


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


# The checksums step: SHA256SUMS covers every platform's archive, so a run for one platform
# (one CI job per platform) leaves it to the job that holds them all.

E_MACHINE = {"linux/amd64": 0x3E, "linux/arm64": 0xB7}


def elf(platform: str, *marks: str) -> bytes:
    """The head of a little-endian ELF executable for `platform`, carrying `marks` as the
    release's binary carries its version and commit."""
    header = b"\x7fELF\x02\x01\x01" + bytes(11) + E_MACHINE[platform].to_bytes(2, "little")
    return header + " ".join(marks).encode()


@pytest.fixture
def tagged(tmp_path: Path) -> Plan:
    history = History(tmp_path / "repo")
    history.commit("feat: something")
    history.tag("1.2.0")
    plan = plan_for(history, "1.2.0", ReleaseConfig(root=history.root))
    return dataclasses.replace(plan, stages=frozenset({"checksums"}))


def put_archives(plan: Plan, **binaries: bytes) -> None:
    plan.dist.mkdir(parents=True, exist_ok=True)
    for platform in plan.config.platforms:
        binary = binaries.get(platform.split("/")[1]) or elf(
            platform, str(plan.version), str(plan.revision)
        )
        archive = deterministic_tar_gz(binary, "barycenter", 1_700_000_000)
        (plan.dist / plan.archive(platform)).write_bytes(archive)


def test_a_run_for_one_platform_writes_no_checksums(tagged: Plan) -> None:
    one = dataclasses.replace(tagged, platforms=("linux/arm64",))
    put_archives(tagged)
    status = WriteChecksums().state(one)
    assert status.state is State.SKIP
    assert "invoke release.checksums --version 1.2.0" in status.detail
    assert problems_of(one, [WriteChecksums()]) == [] and WriteChecksums().describe(one) == []


def test_checksums_are_written_over_every_platform_s_archive(tagged: Plan) -> None:
    step = WriteChecksums()
    put_archives(tagged)
    assert step.state(tagged).state is State.TODO
    assert problems_of(tagged, [step]) == []
    step.run(tagged, lambda line: None)
    assert step.state(tagged) == Status.done(
        "v1.2.0/SHA256SUMS covers barycenter-v1.2.0-linux-amd64.tar.gz, "
        "barycenter-v1.2.0-linux-arm64.tar.gz"
    )
    # A rebuilt archive no longer matches: to do again.
    put_archives(tagged, amd64=elf("linux/amd64", "1.2.0", str(tagged.revision), "rebuilt"))
    assert step.state(tagged).state is State.TODO


def test_checksums_vouch_only_for_archives_that_are_the_release_s(tagged: Plan) -> None:
    put_archives(tagged, arm64=elf("linux/amd64", "1.2.0", str(tagged.revision)))
    (tagged.dist / tagged.archive("linux/amd64")).unlink()
    assert problems_of(tagged, [WriteChecksums()]) == [
        "barycenter-v1.2.0-linux-amd64.tar.gz is missing: run invoke release.build --version "
        f"1.2.0 --platform linux/amd64, or put its archive in {tagged.dist}",
        "barycenter-v1.2.0-linux-arm64.tar.gz holds a amd64 binary: run invoke release.build "
        f"--version 1.2.0 --platform linux/arm64, or put its archive in {tagged.dist}",
    ]
