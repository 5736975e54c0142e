"""devstack/debs.py: a package rewritten with an uncompressed data member installs the same
files, as dpkg-deb itself reads it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devstack.baseimages import clean
from devstack.debs import member, members, uncompressed, write_uncompressed
from release.errors import ReleaseError


def dpkg_deb(*argv: str | Path) -> bytes:
    return subprocess.run(["dpkg-deb", *map(str, argv)], capture_output=True, check=True).stdout


@pytest.fixture(params=["xz", "gzip"])
def package(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN/control").write_text(
        "Package: hello-odd\nVersion: 1.0\nArchitecture: arm64\n"
        "Maintainer: Barycenter <dev@example.org>\nDescription: a test package\n"
    )
    (tree / "usr/bin").mkdir(parents=True)
    (tree / "usr/bin/hello").write_bytes(b"#!/bin/sh\necho hello\n" * 101)  # odd-sized members
    (tree / "usr/bin/hello").chmod(0o755)
    deb = tmp_path / "hello-odd_1.0_arm64.deb"
    dpkg_deb("--root-owner-group", f"-Z{request.param}", "--build", tree, deb)
    return deb


def test_the_data_member_is_uncompressed_and_installs_the_same_files(
    package: Path, tmp_path: Path
) -> None:
    rewritten = tmp_path / "rewritten.deb"
    write_uncompressed(package, rewritten)
    names = [name for name, _ in members(rewritten.read_bytes())]
    assert names[0] == "debian-binary" and names[-1] == "data.tar"
    assert dpkg_deb("--fsys-tarfile", rewritten) == dpkg_deb("--fsys-tarfile", package)
    assert dpkg_deb("--field", rewritten) == dpkg_deb("--field", package)
    for deb, root in ((package, tmp_path / "a"), (rewritten, tmp_path / "b")):
        dpkg_deb("--extract", deb, root)
    assert (tmp_path / "b/usr/bin/hello").read_bytes() == (
        tmp_path / "a/usr/bin/hello"
    ).read_bytes()


def test_rewriting_in_place_leaves_an_uncompressed_package_and_no_partial_file(
    package: Path,
) -> None:
    write_uncompressed(package, package)
    assert [name for name, _ in members(package.read_bytes())][-1] == "data.tar"
    assert [p.name for p in package.parent.glob(".*partial")] == []


def test_what_is_not_an_ar_archive_is_refused() -> None:
    with pytest.raises(ValueError, match="not an ar archive"):
        uncompressed(b"PK\x03\x04 a zip file")


@pytest.mark.parametrize("cut", [0.3, 0.9])
def test_a_cut_package_is_refused_in_one_line_naming_the_file_and_deleting_it_mends_it(
    package: Path, tmp_path: Path, cut: float
) -> None:
    whole = package.read_bytes()
    package.write_bytes(whole[: int(len(whole) * cut)])
    with pytest.raises(ReleaseError) as refused:
        write_uncompressed(package, package)
    assert str(package) in refused.value.problem and "\n" not in str(refused.value)
    assert refused.value.fix == f"delete {package}, then run invoke stack.up again"
    assert [p.name for p in package.parent.glob(".*partial")] == []
    # What the fix says: the deleted package comes back whole (stack.up downloads it again).
    package.unlink()
    package.write_bytes(whole)
    write_uncompressed(package, tmp_path / "mended.deb")
    assert dpkg_deb("--fsys-tarfile", tmp_path / "mended.deb") == dpkg_deb(
        "--fsys-tarfile", package
    )


def test_clean_leaves_no_package_and_no_partial_rewrite_in_the_tree(tmp_path: Path) -> None:
    archives = tmp_path / "var/cache/apt/archives"
    (archives / "partial").mkdir(parents=True)
    for name in ("a_1.0_arm64.deb", ".a_1.0_arm64.deb.partial", "lock"):
        (archives / name).write_bytes(b"x")
    clean(tmp_path)
    assert sorted(p.name for p in archives.iterdir()) == ["lock", "partial"]


def test_a_corrupt_data_member_or_none_at_all_is_refused_in_one_line(
    package: Path, tmp_path: Path
) -> None:
    parts = dict(members(package.read_bytes()))
    data_name = next(name for name in parts if name.startswith("data.tar"))
    data = parts[data_name]
    corrupt = data[:20] + bytes(b ^ 0xFF for b in data[20:60]) + data[60:]
    cases = {
        "corrupt.deb": {**parts, data_name: corrupt},
        "no-data.deb": {n: d for n, d in parts.items() if n != data_name},
    }
    for name, contents in cases.items():
        deb = tmp_path / name
        deb.write_bytes(b"!<arch>\n" + b"".join(member(n, d) for n, d in contents.items()))
        with pytest.raises(ReleaseError) as refused:
            write_uncompressed(deb, deb)
        assert refused.value.fix == f"delete {deb}, then run invoke stack.up again"
        assert "\n" not in str(refused.value)
