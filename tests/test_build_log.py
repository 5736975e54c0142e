"""Reading buildkit's plain progress: which Dockerfile steps ran and which came from a cache."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from release.images import BuildRequest, arch_of, dockerfile_steps, elf_architecture, uncached_steps

COLD = """\
#5 [builder 1/5] FROM docker.io/library/rust:1-bookworm@sha256:b89b
#5 DONE 0.1s
#6 [internal] load build context
#6 DONE 0.0s
#7 [builder 2/5] WORKDIR /src
#7 DONE 0.0s
#8 [builder 3/5] COPY Cargo.toml Cargo.lock ./
#8 DONE 0.0s
#9 [builder 4/5] RUN cargo build --release --locked --offline
#9 0.512 Compiling barycenter v0.1.0 (/src)
#9 DONE 3.1s
#10 [runtime 2/2] COPY --from=builder /out/barycenter /usr/local/bin/barycenter
#10 CACHED
""".splitlines()

WARM = """\
#5 [builder 1/5] FROM docker.io/library/rust:1-bookworm@sha256:b89b
#5 DONE 0.1s
#7 [builder 2/5] WORKDIR /src
#7 CACHED
#8 [builder 3/5] COPY Cargo.toml Cargo.lock ./
#8 CACHED
#9 [builder 4/5] RUN cargo build --release --locked --offline
#9 CACHED
""".splitlines()


def test_steps_are_named_by_stage_and_instruction() -> None:
    assert dockerfile_steps(WARM) == {
        "5": "[builder] FROM docker.io/library/rust:1-bookworm@sha256:b89b",
        "7": "[builder] WORKDIR /src",
        "8": "[builder] COPY Cargo.toml Cargo.lock ./",
        "9": "[builder] RUN cargo build --release --locked --offline",
    }


def test_internal_vertices_are_not_dockerfile_steps() -> None:
    assert "6" not in dockerfile_steps(COLD)


def test_executed_steps_are_uncached_and_from_lines_never_count() -> None:
    assert uncached_steps(COLD) == [
        "[builder] WORKDIR /src",
        "[builder] COPY Cargo.toml Cargo.lock ./",
        "[builder] RUN cargo build --release --locked --offline",
    ]


def test_a_fully_cached_build_has_no_uncached_step() -> None:
    assert uncached_steps(WARM) == []


@pytest.mark.parametrize(
    ("platform", "arch"),
    [("linux/amd64", "amd64"), ("linux/arm64", "arm64"), ("linux/arm/v7", "arm-v7")],
)
def test_arch_names_come_from_the_platform(platform: str, arch: str) -> None:
    assert arch_of(platform) == arch


def test_each_platform_caches_in_its_own_directory(tmp_path: Path) -> None:
    def cache_of(platform: str) -> Path:
        return BuildRequest(
            platform, "1.2.0", "abc", "2026-01-01T00:00:00Z", tmp_path
        ).platform_cache

    assert cache_of("linux/amd64") == tmp_path / "amd64"
    assert cache_of("linux/arm64") == tmp_path / "arm64"


def test_build_arguments_carry_version_revision_and_creation_time(tmp_path: Path) -> None:
    request = BuildRequest(
        "linux/amd64", "1.2.0", "abc123", "2026-01-01T00:00:00Z", tmp_path, source_url="https://x"
    )
    assert request.build_args() == {
        "VERSION": "1.2.0",
        "REVISION": "abc123",
        "CREATED": "2026-01-01T00:00:00Z",
        "SOURCE": "https://x",
    }


def test_elf_architecture_reads_the_machine_field(tmp_path: Path) -> None:
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    header[18:20] = (183).to_bytes(2, "little")
    binary = tmp_path / "arm64-binary"
    binary.write_bytes(bytes(header))
    assert elf_architecture(binary) == "arm64"
    # And a real executable: the interpreter running this test, built for this machine.
    machine = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
    assert elf_architecture(Path(sys.executable).resolve()) == machine


def test_elf_architecture_refuses_other_files(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(ValueError, match="not an ELF file"):
        elf_architecture(script)


@pytest.mark.parametrize(
    ("kind", "ref", "expected_from", "expected_to"),
    [
        (
            "registry",
            "reg.example/barycenter-cache:{arch}",
            {"type": "registry", "ref": "reg.example/barycenter-cache:arm64"},
            {"type": "registry", "ref": "reg.example/barycenter-cache:arm64", "mode": "max"},
        ),
        (
            "gha",
            "",
            {"type": "gha", "scope": "barycenter-arm64"},
            {"type": "gha", "scope": "barycenter-arm64", "mode": "max"},
        ),
    ],
)
def test_registry_and_gha_caches_are_per_platform_too(
    tmp_path: Path,
    kind: str,
    ref: str,
    expected_from: dict[str, str],
    expected_to: dict[str, str],
) -> None:
    request = BuildRequest(
        "linux/arm64",
        "1.2.0",
        "abc",
        "2026-01-01T00:00:00Z",
        tmp_path,
        cache_kind=kind,
        cache_ref=ref,
    )
    assert request.cache_options() == (expected_from, expected_to)


def test_a_local_cache_is_read_only_once_it_exists(tmp_path: Path) -> None:
    request = BuildRequest("linux/amd64", "1.2.0", "abc", "2026-01-01T00:00:00Z", tmp_path)
    assert request.cache_options() == (
        None,
        {"type": "local", "dest": str(tmp_path / "amd64"), "mode": "max"},
    )
    (tmp_path / "amd64" / "index.json").write_text("{}")
    assert request.cache_options()[0] == {"type": "local", "src": str(tmp_path / "amd64")}


def test_the_failing_step_is_named_from_the_log() -> None:
    log = [
        "#9 [builder 4/5] RUN cargo build --release",
        "#9 1.2 error[E0425]: cannot find value",
        "#9 ERROR: process did not complete successfully: exit code: 101",
    ]
    from release.images import failing_step

    assert failing_step(log) == "[builder] RUN cargo build --release"
    assert failing_step(log[:2]) is None
