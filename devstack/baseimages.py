"""Base images made offline from Debian packages, served under their public names by the mirror.

The engine's registry mirror answers for docker.io, so the project's unchanged Dockerfile,
which names `rust:1-bookworm` and `debian:bookworm-slim`, builds with no internet. Root
filesystems are cached on disk by recipe, so only the first stack.up on a machine pays for
debootstrap.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from devstack.packages import debian_mirror
from devstack.paths import StackPaths
from devstack.registry import MIRROR
from release.errors import ReleaseError

ARCHITECTURES = ("amd64", "arm64")
SUITE = "bookworm"
IMPORT_DOCKERFILE = (
    'FROM scratch\nARG TARGETARCH\nADD rootfs-${TARGETARCH}.tar.gz /\nCMD ["bash"]\n'
)


@dataclass(frozen=True)
class BaseImage:
    repository: str
    tag: str
    include: tuple[str, ...] = ()

    @property
    def recipe(self) -> str:
        """A digest of everything that shapes the root filesystem, to key the on-disk cache."""
        text = "\n".join((SUITE, "minbase", *self.include, IMPORT_DOCKERFILE))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def recipe_tag(self) -> str:
        return f"{self.tag}-recipe-{self.recipe}"

    def rootfs(self, paths: StackPaths, arch: str) -> Path:
        slug = self.repository.replace("/", "-")
        return paths.rootfs_cache / f"{slug}-{self.tag}-{arch}-{self.recipe}.tar.gz"


# The rust image stands in for Docker Hub's rust:1-bookworm with Debian's rustc 1.63,
# which is why Cargo.toml declares rust-version 1.63 and Cargo.lock stays at version 3.
BASE_IMAGES = (
    BaseImage("library/debian", "bookworm-slim"),
    BaseImage("library/rust", "1-bookworm", include=("rustc", "cargo", "gcc", "libc6-dev")),
)


def run_logged(argv: list[str], log: Path, what: str) -> None:
    with log.open("ab") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise ReleaseError(f"{what} failed (exit {result.returncode})", f"read {log}")


def build_rootfs(image: BaseImage, arch: str, paths: StackPaths) -> Path:
    target = image.rootfs(paths, arch)
    if target.exists():
        return target
    log = paths.logfile(f"debootstrap-{arch}")
    work = paths.rootfs_cache / f"work-{image.tag}-{arch}"
    shutil.rmtree(work, ignore_errors=True)
    debs = paths.rootfs_cache / f"debs-{arch}"
    debs.mkdir(parents=True, exist_ok=True)
    argv = ["debootstrap", "--variant=minbase", f"--arch={arch}", f"--cache-dir={debs}"]
    if image.include:
        argv.append("--include=" + ",".join(image.include))
    foreign = arch != "amd64"
    if foreign:
        argv.append("--foreign")
    run_logged([*argv, SUITE, str(work), debian_mirror()], log, f"debootstrap {image.tag} {arch}")
    if foreign:
        run_logged(
            ["chroot", str(work), "/debootstrap/debootstrap", "--second-stage"],
            log,
            f"debootstrap second stage {image.tag} {arch}",
        )
    for leftover in (work / "var/cache/apt/archives").glob("*.deb"):
        leftover.unlink()
    for leftover in (work / "var/lib/apt/lists").glob("*"):
        if leftover.is_file():
            leftover.unlink()
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(work), "-c", "."], stdout=subprocess.PIPE
        )
        gzip = subprocess.run(["gzip", "-1"], stdin=tar.stdout, stdout=out, check=False)
        if tar.stdout is not None:
            tar.stdout.close()
        if tar.wait() != 0 or gzip.returncode != 0:
            raise ReleaseError(f"packing the {image.tag} {arch} root filesystem failed")
    partial.replace(target)
    shutil.rmtree(work, ignore_errors=True)
    return target


def build_all_rootfs(paths: StackPaths) -> None:
    """One worker per architecture: arm64's emulated second stage overlaps amd64's work."""

    def for_arch(arch: str) -> None:
        for image in BASE_IMAGES:
            build_rootfs(image, arch, paths)

    with ThreadPoolExecutor(max_workers=len(ARCHITECTURES)) as pool:
        for future in [pool.submit(for_arch, arch) for arch in ARCHITECTURES]:
            future.result()


def published(image: BaseImage) -> bool:
    return MIRROR.has_manifest(image.repository, image.recipe_tag) and MIRROR.has_manifest(
        image.repository, image.tag
    )


def publish(image: BaseImage, paths: StackPaths) -> None:
    from python_on_whales import docker

    context = paths.rootfs_cache / f"context-{image.tag}"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir()
    (context / "Dockerfile").write_text(IMPORT_DOCKERFILE)
    for arch in ARCHITECTURES:
        os.link(image.rootfs(paths, arch), context / f"rootfs-{arch}.tar.gz")
    reference = f"{MIRROR.address}/{image.repository}"
    docker.buildx.build(
        context,
        platforms=[f"linux/{arch}" for arch in ARCHITECTURES],
        tags=[f"{reference}:{image.tag}", f"{reference}:{image.recipe_tag}"],
        provenance=False,
        push=True,
        progress=False,
    )
    shutil.rmtree(context, ignore_errors=True)


def ensure_base_images(paths: StackPaths) -> list[str]:
    """Publish each base image to the mirror unless this recipe is there; return what was done."""
    missing = [image for image in BASE_IMAGES if not published(image)]
    if not missing:
        return []
    if any(not image.rootfs(paths, arch).exists() for image in missing for arch in ARCHITECTURES):
        build_all_rootfs(paths)
    for image in missing:
        publish(image, paths)
    return [f"{image.repository}:{image.tag}" for image in missing]
