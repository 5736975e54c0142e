"""The project's own Dockerfile, built per platform through python-on-whales on the real engine.

Each platform gets its own cache directory; arm64 builds and runs under qemu emulation.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from release.images import BuildReport, BuildRequest, arch_of, build, elf_architecture

# It prunes the engine's whole build cache and counts the steps a build took from it: no other
# stack test builds meanwhile.
pytestmark = pytest.mark.alone

PLATFORMS = ["linux/amd64", "linux/arm64"]
REVISION = "0123456789abcdef0123456789abcdef01234567"
CREATED = "2026-11-26T06:00:00Z"


@dataclass(frozen=True)
class BuiltImage:
    platform: str
    tag: str
    cache_dir: Path
    first: BuildReport


def request_for(platform: str, cache_dir: Path, version: str, **overrides: object) -> BuildRequest:
    fields: dict[str, object] = {
        "platform": platform,
        "version": version,
        "revision": REVISION,
        "created": CREATED,
        "cache_dir": cache_dir,
        "tags": (f"barycenter-foundation-test:{arch_of(platform)}",),
        "load": True,
    }
    fields.update(overrides)
    return BuildRequest(**fields)  # type: ignore[arg-type]


def snapshot(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def prune_the_stacks_engine(docker: DockerClient) -> None:
    """Empty the build cache, only on the stack's own engine: with DOCKER_HOST the engine is a
    maintainer's, whose cache is theirs, so the tests that need a cold engine do not run."""
    if os.environ.get("DOCKER_HOST"):
        pytest.skip("DOCKER_HOST names an engine that is not the stack's: its cache stays")
    docker.buildx.prune(all=True)


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build-cache")


@pytest.fixture(scope="module", params=PLATFORMS, ids=arch_of)
def built(
    request: pytest.FixtureRequest,
    docker: DockerClient,
    repo_root: Path,
    cache_root: Path,
    cargo_version: str,
) -> BuiltImage:
    platform: str = request.param
    # Start cold, so the first build shows what an uncached build looks like.
    prune_the_stacks_engine(docker)
    build_request = request_for(platform, cache_root, cargo_version)
    report = build(docker, repo_root, repo_root / "Dockerfile", build_request)
    return BuiltImage(platform, build_request.tags[0], build_request.platform_cache, report)


def test_image_prints_the_cargo_version_and_the_revision_passed_in(
    docker: DockerClient, built: BuiltImage, cargo_version: str
) -> None:
    output = docker.run(built.tag, ["--version"], platform=built.platform, remove=True)
    assert output == f"barycenter {cargo_version} (revision {REVISION})"


def test_image_runs_for_its_own_architecture(docker: DockerClient, built: BuiltImage) -> None:
    image = docker.image.inspect(built.tag)
    assert f"{image.os}/{image.architecture}" == built.platform


def test_image_labels_carry_version_revision_and_provenance(
    docker: DockerClient, built: BuiltImage, cargo_version: str
) -> None:
    labels = docker.image.inspect(built.tag).config.labels or {}
    assert labels["org.opencontainers.image.version"] == cargo_version
    assert labels["org.opencontainers.image.revision"] == REVISION
    assert labels["org.opencontainers.image.created"] == CREATED
    assert labels["org.opencontainers.image.title"] == "barycenter"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert labels["org.opencontainers.image.description"]


def test_image_runs_as_a_non_root_user(docker: DockerClient, built: BuiltImage) -> None:
    user = docker.image.inspect(built.tag).config.user or ""
    assert user and user.split(":")[0] not in ("", "0", "root")


def test_unknown_flag_in_the_image_gives_usage_and_exit_2(
    docker: DockerClient, built: BuiltImage, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(DockerException) as refused:
        docker.run(built.tag, ["--frobnicate"], platform=built.platform, remove=True)
    # python-on-whales lets the container's stderr through to the test's own.
    stderr = capfd.readouterr().err
    assert refused.value.return_code == 2
    assert "usage: barycenter" in stderr
    assert "unknown argument '--frobnicate'" in stderr


def test_cold_build_compiles_the_program(built: BuiltImage) -> None:
    assert any("cargo build" in step for step in built.first.uncached_steps)


def test_rebuild_without_change_is_fully_cached_from_the_platform_cache(
    docker: DockerClient, built: BuiltImage, repo_root: Path, cache_root: Path, cargo_version: str
) -> None:
    # Dropping the engine's own build cache leaves the platform's cache directory as the only
    # source a step can come from.
    prune_the_stacks_engine(docker)
    other = [arch_of(p) for p in PLATFORMS if p != built.platform]
    others_before = {arch: snapshot(cache_root / arch) for arch in other}

    report = build(
        docker,
        repo_root,
        repo_root / "Dockerfile",
        request_for(built.platform, cache_root, cargo_version),
    )

    assert len(report.steps) >= 5
    assert report.uncached_steps == []
    for arch, before in others_before.items():
        assert snapshot(cache_root / arch) == before, (
            f"building {built.platform} touched {arch}'s cache"
        )


def test_binary_stage_holds_only_the_binary_for_its_platform(
    docker: DockerClient,
    built: BuiltImage,
    repo_root: Path,
    cache_root: Path,
    cargo_version: str,
    tmp_path: Path,
) -> None:
    extracted = tmp_path / "bin"
    build(
        docker,
        repo_root,
        repo_root / "Dockerfile",
        request_for(
            built.platform,
            cache_root,
            cargo_version,
            target="bin",
            tags=(),
            load=False,
            output_dir=extracted,
        ),
    )
    files = sorted(str(p.relative_to(extracted)) for p in extracted.rglob("*"))
    assert files == ["barycenter"]
    assert elf_architecture(extracted / "barycenter") == arch_of(built.platform)
