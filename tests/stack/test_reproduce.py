"""release.reproduce on the real stack: a release rebuilt from its tag gives the same bytes, and
a difference is named down to the layer and file, or to the base image that moved."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from release.dist import write_checksums
from release.oci import Reference, RegistryClient
from tests.stack.test_build_publish import PLATFORMS, VERSION, Checkout, checkout_of

MIRROR = "127.0.0.1:5001"

# release.reproduce drops its rebuild's cache mounts (`buildx prune --filter id=…`), and the
# engine's content clean-up after a prune took blobs from a build running beside it ("failed to
# solve: not found" in test_release_through_pull_requests, CI from nothing): the file runs alone.
pytestmark = pytest.mark.alone


def digest_of(reference: str) -> str:
    parsed = Reference.parse(reference)
    manifest = RegistryClient(parsed.host).manifest(parsed.repository, parsed.tag)
    assert manifest is not None, reference
    return manifest.digest


def platform_digest(reference: str, platform: str) -> str:
    parsed = Reference.parse(reference)
    index = RegistryClient(parsed.host).manifest(parsed.repository, parsed.tag)
    assert index is not None
    os_name, arch = platform.split("/")
    return str(
        next(
            m["digest"]
            for m in index.json["manifests"]
            if m["platform"] == {"architecture": arch, "os": os_name}
        )
    )


def build(checkout: Checkout, *platform: str) -> None:
    options = ["--platform", platform[0]] if platform else []
    built = checkout.invoke(
        "release.build", "--version", VERSION, "--image", checkout.image, *options
    )
    assert built.returncode == 0, built.stdout + built.stderr
    if platform:
        # A one-platform build writes no SHA256SUMS (the release's covers every platform):
        # the sums of what was built, written as the checksums step writes them.
        write_checksums(checkout.root / "dist" / f"v{VERSION}", f"v{VERSION}")


def reproduce(checkout: Checkout, *options: str) -> subprocess.CompletedProcess[str]:
    return checkout.invoke(
        "release.reproduce", "--version", VERSION, "--image", checkout.image, *options
    )


def edit_dockerfile(checkout: Checkout, old: str, new: str) -> None:
    dockerfile = checkout.root / "Dockerfile"
    text = dockerfile.read_text()
    assert old in text
    dockerfile.write_text(text.replace(old, new))


def test_a_release_is_reproduced_on_every_platform_from_nothing(
    repo_root: Path, tmp_path: Path
) -> None:
    checkout = checkout_of(repo_root, tmp_path)
    commit = checkout.tag_release(VERSION)
    build(checkout)
    shutil.rmtree(checkout.root / ".build-cache")  # the release's own build cache

    result = reproduce(checkout, "--format", "json")

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["tag"], report["commit"], report["reproduced"]) == (f"v{VERSION}", commit, True)
    sums: dict[str, str] = {}
    for line in (checkout.root / "dist" / f"v{VERSION}" / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        sums[name] = digest
    assert [p["platform"] for p in report["platforms"]] == list(PLATFORMS)
    for platform in report["platforms"]:
        arch = platform["platform"].split("/")[1]
        published = platform_digest(f"{checkout.image}:v{VERSION}-{arch}", platform["platform"])
        assert platform["published"] == platform["rebuilt"] == published
        assert platform["reproduced"] is True
        assert set(platform["base_images"]) == {"RUST_IMAGE", "RUNTIME_IMAGE"}
    for archive in report["archives"]:
        assert archive["published"] == archive["rebuilt"] == sums[archive["name"]]
    assert sorted(a["name"] for a in report["archives"]) == sorted(sums)
    # The rebuild's own cache mounts are gone again.
    usage = subprocess.run(
        ["docker", "buildx", "du", "--verbose"], capture_output=True, text=True, check=True
    )
    assert report["cache_namespace"] not in usage.stdout


def test_a_step_that_writes_the_time_is_named_with_its_layer_and_file(
    repo_root: Path, tmp_path: Path
) -> None:
    checkout = checkout_of(repo_root, tmp_path)
    edit_dockerfile(
        checkout,
        "COPY --from=builder /out/barycenter /usr/local/bin/barycenter\n",
        "COPY --from=builder /out/barycenter /usr/local/bin/barycenter\n"
        "RUN date +%s%N > /etc/built-at\n",
    )
    checkout.tag_release(VERSION)
    build(checkout, "linux/amd64")

    result = reproduce(checkout, "--platform", "linux/amd64")

    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        r"linux/amd64 image: NOT reproduced: published sha256:\w{64}, rebuilt sha256:\w{64} "
        r"\([\d.]+ s\)",
        lines[1],
    )
    assert re.fullmatch(
        r"  layer 3 \(RUN /bin/sh -c date \+%s%N > /etc/built-at\): "
        r"published sha256:\w{64}, rebuilt sha256:\w{64}",
        lines[2],
    )
    assert lines[3] == "    files that differ: etc/built-at (content)"
    assert lines[4].startswith("barycenter-v1.4.0-linux-amd64.tar.gz: reproduced sha256 ")
    assert len(lines) == 5
    assert result.stderr.strip() == (
        "error: v1.4.0 is not reproduced (linux/amd64 image): the differences are listed above"
    )


@pytest.fixture
def test_base(docker: object) -> str:
    """A base image of this test's own in the mirror, so moving it disturbs no other build."""
    base = f"{MIRROR}/library/barycenter-test-base-{uuid.uuid4().hex[:8]}:1"
    subprocess.run(
        ["docker", "buildx", "imagetools", "create", "-t", base,
         f"{MIRROR}/library/debian:bookworm-slim"],
        check=True, capture_output=True,
    )  # fmt: skip
    return base


def move(base: str, tmp_path: Path) -> str:
    """Push a different amd64 image under `base`'s tag; its new digest."""
    context = tmp_path / "moved-base"
    context.mkdir()
    (context / "moved").write_text("a newer base\n")
    (context / "Dockerfile").write_text(
        f"FROM {MIRROR}/library/debian:bookworm-slim\nCOPY moved /\n"
    )
    subprocess.run(
        ["docker", "buildx", "build", "--platform", "linux/amd64", "--provenance=false",
         "--output", f"type=registry,name={base}", str(context)],
        check=True, capture_output=True,
    )  # fmt: skip
    return digest_of(base)


def test_a_moved_base_image_is_named_as_the_cause(
    repo_root: Path, tmp_path: Path, test_base: str
) -> None:
    checkout = checkout_of(repo_root, tmp_path)
    # A FROM that names a tag directly: the one kind of base the build cannot pin.
    edit_dockerfile(checkout, "FROM ${RUNTIME_IMAGE} AS runtime", f"FROM {test_base} AS runtime")
    checkout.tag_release(VERSION)
    build(checkout, "linux/amd64")
    before = digest_of(test_base)
    after = move(test_base, tmp_path)

    result = reproduce(checkout, "--platform", "linux/amd64")

    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("linux/amd64 image: NOT reproduced: published sha256:")
    assert lines[2] == (
        f"  cause: base image {test_base} moved: the release was built from {before}, "
        f"the rebuild got {after}"
    )
    assert "    only in the rebuilt layer: moved" in lines
    assert lines[-1].startswith("barycenter-v1.4.0-linux-amd64.tar.gz: reproduced sha256 ")


def test_a_pinned_base_image_may_move_without_harm(
    repo_root: Path, tmp_path: Path, test_base: str
) -> None:
    checkout = checkout_of(repo_root, tmp_path)
    edit_dockerfile(
        checkout, "ARG RUNTIME_IMAGE=debian:bookworm-slim", f"ARG RUNTIME_IMAGE={test_base}"
    )
    checkout.tag_release(VERSION)
    build(checkout, "linux/amd64")
    before = digest_of(test_base)
    move(test_base, tmp_path)

    result = reproduce(checkout, "--platform", "linux/amd64", "--format", "json")

    assert result.returncode == 0, result.stdout + result.stderr
    (platform,) = json.loads(result.stdout)["platforms"]
    assert platform["reproduced"] is True
    assert platform["base_images"]["RUNTIME_IMAGE"] == f"{test_base}@{before}"
