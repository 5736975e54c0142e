"""release.build and release.publish of the project's own Dockerfile on the real stack."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from release import cargo
from release.images import elf_architecture
from tests.gitrepos import configure_identity, git, invoke

REGISTRY = "127.0.0.1:5000"
VERSION = "1.4.0"
PLATFORMS = ("linux/amd64", "linux/arm64")


@dataclass(frozen=True)
class Checkout:
    root: Path
    image: str

    def invoke(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return invoke(self.root, *args, env=env, timeout=1200)

    def tag_release(self, version: str) -> str:
        """vX as release.prepare and release.tag make it, which the steps after the push trust:
        on main, Cargo.toml and Cargo.lock at X, CHANGELOG.md with X's section, the release
        commit, an annotated tag."""
        git(self.root, "switch", "-q", "-C", "main")
        cargo.bump(self.root, version)
        log = self.root / "CHANGELOG.md"
        section = f"## [Unreleased]\n\n## [{version}] - 2026-01-01\n"
        log.write_text(log.read_text().replace("## [Unreleased]\n", section, 1))
        git(self.root, "commit", "-qam", f"chore(release): v{version}")
        git(self.root, "tag", "-a", f"v{version}", "-m", f"v{version}")
        return git(self.root, "rev-parse", "HEAD")


def checkout_of(repo_root: Path, base: Path) -> Checkout:
    """A clone of this repository, as the tag-triggered pipeline checks it out."""
    root = base / "barycenter"
    git(base, "clone", "-q", str(repo_root), str(root))
    configure_identity(root)
    return Checkout(root, f"{REGISTRY}/barycenter-test-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def released(
    repo_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Checkout, str, str]:
    checkout = checkout_of(repo_root, tmp_path_factory.mktemp("release"))
    commit = checkout.tag_release(VERSION)
    built = checkout.invoke("release.build", "--version", VERSION, "--image", checkout.image)
    assert built.returncode == 0, built.stdout + built.stderr
    published = checkout.invoke("release.publish", "--version", VERSION, "--image", checkout.image)
    assert published.returncode == 0, published.stdout + published.stderr
    return checkout, commit, built.stdout + published.stdout


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_published_version_runs_on_each_platform(
    docker: DockerClient, released: tuple[Checkout, str, str], platform: str
) -> None:
    checkout, commit, _ = released
    reference = f"{checkout.image}:v{VERSION}"
    docker.image.pull(reference, platform=platform, quiet=True)
    output = docker.run(reference, ["--version"], platform=platform, remove=True, pull="always")
    assert output == f"barycenter {VERSION} (revision {commit})"


def test_one_index_with_both_platforms_under_every_tag_the_policy_gives(
    docker: DockerClient, released: tuple[Checkout, str, str]
) -> None:
    checkout, _, _ = released
    from release import registry

    index = registry.manifest(f"{checkout.image}:v{VERSION}")
    assert index is not None
    images = [m for m in index["manifests"] if m["platform"]["os"] != "unknown"]
    platforms = sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in images)
    assert platforms == list(PLATFORMS)
    # BuildKit's provenance (mode=max) rides along: one attestation manifest per image.
    attested = sorted(
        m["annotations"]["vnd.docker.reference.digest"]
        for m in index["manifests"]
        if m["platform"]["os"] == "unknown"
    )
    assert attested == sorted(m["digest"] for m in images)
    for tag in ("latest", "1.4", "1"):
        assert registry.manifest(f"{checkout.image}:{tag}")["digest"] == index["digest"]  # type: ignore[index]


def test_dist_holds_one_archive_per_platform_with_checksums(
    released: tuple[Checkout, str, str],
) -> None:
    checkout, _, _ = released
    dist = checkout.root / "dist" / f"v{VERSION}"
    sums: dict[str, str] = {}
    for line in (dist / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        sums[name] = digest
    assert sorted(sums) == [
        f"barycenter-v{VERSION}-linux-amd64.tar.gz",
        f"barycenter-v{VERSION}-linux-arm64.tar.gz",
    ]
    for name, digest in sums.items():
        data = (dist / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            assert archive.getnames() == ["barycenter"]
            member = archive.extractfile("barycenter")
            assert member is not None
            binary = dist / f"check-{name}"
            binary.write_bytes(member.read())
        assert elf_architecture(binary) == name.rsplit("-", 1)[1].removesuffix(".tar.gz")
    for platform in PLATFORMS:
        log = dist / "logs" / f"build-linux-{platform.split('/')[1]}.log"
        assert "cargo build" in log.read_text()


def test_publishing_again_changes_nothing(released: tuple[Checkout, str, str]) -> None:
    checkout, _, _ = released
    from release import registry

    before = registry.manifest(f"{checkout.image}:v{VERSION}")
    again = checkout.invoke("release.publish", "--version", VERSION, "--image", checkout.image)
    assert again.returncode == 0, again.stderr
    assert "= publish: already done" in again.stdout
    assert registry.manifest(f"{checkout.image}:v{VERSION}") == before
    rebuilt = checkout.invoke("release.build", "--version", VERSION, "--image", checkout.image)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "= build: already done" in rebuilt.stdout


def test_an_index_with_a_wrong_architecture_child_is_refused(
    released: tuple[Checkout, str, str],
) -> None:
    checkout, _, _ = released
    from release import registry

    wrong = f"{checkout.image}-wrong"
    amd64 = registry.manifest(f"{checkout.image}:v{VERSION}-amd64")
    assert amd64 is not None
    source = f"{checkout.image}@{amd64['digest']}"
    registry.create_index([f"{wrong}:v{VERSION}-amd64", f"{wrong}:v{VERSION}-arm64"], [source])

    refused = checkout.invoke("release.publish", "--version", VERSION, "--image", wrong)

    assert refused.returncode == 1
    assert (
        f"error: {wrong}:v{VERSION}-arm64 holds a linux/amd64 image in the linux/arm64 slot"
        in refused.stderr
    )
    assert registry.manifest(f"{wrong}:v{VERSION}") is None
    assert registry.manifest(f"{wrong}:latest") is None


def test_a_version_tag_on_other_images_is_immutable_without_force(
    released: tuple[Checkout, str, str],
) -> None:
    checkout, _, _ = released
    from release import registry

    moved = f"{checkout.image}-moved"
    for arch in ("amd64", "arm64"):
        child = registry.manifest(f"{checkout.image}:v{VERSION}-{arch}")
        assert child is not None
        registry.create_index(
            [f"{moved}:v{VERSION}-{arch}"], [f"{checkout.image}@{child['digest']}"]
        )
    # vX on the same registry already names another index: only the amd64 image.
    amd64 = registry.manifest(f"{checkout.image}:v{VERSION}-amd64")
    assert amd64 is not None
    registry.create_index([f"{moved}:v{VERSION}"], [f"{checkout.image}@{amd64['digest']}"])
    before = registry.manifest(f"{moved}:v{VERSION}")

    refused = checkout.invoke("release.publish", "--version", VERSION, "--image", moved)

    assert refused.returncode == 1
    assert "already points at other images (released tags are immutable)" in refused.stderr
    assert registry.manifest(f"{moved}:v{VERSION}") == before
    forced = checkout.invoke("release.publish", "--version", VERSION, "--image", moved, "--force")
    assert forced.returncode == 0, forced.stderr
    assert registry.manifest(f"{moved}:v{VERSION}") != before


def test_dry_runs_describe_the_builds_and_push_nothing(
    released: tuple[Checkout, str, str],
) -> None:
    checkout, _, _ = released
    from release import registry

    fresh = f"{checkout.image}-dry"
    built = checkout.invoke("release.build", "--version", VERSION, "--image", fresh, "--dry-run")

    assert built.returncode == 0, built.stderr
    for arch in ("amd64", "arm64"):
        assert (
            f"would docker buildx build --platform linux/{arch} --output type=oci,"
            f"rewrite-timestamp=true (SOURCE_DATE_EPOCH=" in built.stdout
        )
        assert (
            f"base images pinned by digest), push it as {fresh}:v{VERSION}-{arch} " in built.stdout
        )
        assert registry.manifest(f"{fresh}:v{VERSION}-{arch}") is None
    published = checkout.invoke(
        "release.publish", "--version", VERSION, "--image", fresh, "--dry-run"
    )
    assert published.returncode == 1
    assert published.stderr.count("is not in the registry: run invoke release.build") == 2
    # release.status names the first missing image whole, the registry's port included.
    status = checkout.invoke(
        "release.status", "--version", VERSION, "--image", fresh, "--format", "json"
    )
    assert status.returncode == 0, status.stderr
    rows = {row["step"]: row for row in json.loads(status.stdout)["steps"]}
    assert rows["publish"]["state"] == "to do"
    assert rows["publish"]["detail"] == f"{fresh}:v{VERSION}-amd64 is not in the registry"
