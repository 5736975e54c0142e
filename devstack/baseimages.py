"""Base images made offline from Debian packages, served under their public names by the mirror.

The engine's registry mirror answers for docker.io, so the project's unchanged Dockerfile,
which names `rust:1-bookworm` and `debian:bookworm-slim`, builds with no internet. Root
filesystems are cached on disk by recipe, so only the first stack.up on a machine pays for
debootstrap.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from devstack.packages import debian_mirror
from devstack.paths import StackPaths
from devstack.registry import MIRROR
from release.errors import ReleaseError

ARCHITECTURES = ("amd64", "arm64")
SUITE = "bookworm"
# The image configuration every base image gets, as Docker Hub's images have it.
IMAGE_CONFIG = {
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": ["bash"],
}
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"


@dataclass(frozen=True)
class BaseImage:
    repository: str
    tag: str
    include: tuple[str, ...] = ()

    @property
    def rootfs_recipe(self) -> str:
        """A digest of everything that shapes the root filesystem, to key the on-disk cache."""
        text = "\n".join((SUITE, "minbase", *self.include))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def recipe(self) -> str:
        """The root filesystem's recipe and the image configuration: the mirror's tag key."""
        text = "\n".join((self.rootfs_recipe, json.dumps(IMAGE_CONFIG, sort_keys=True)))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def recipe_tag(self) -> str:
        return f"{self.tag}-recipe-{self.recipe}"

    @property
    def slug(self) -> str:
        return f"{self.repository.replace('/', '-')}-{self.tag}"

    def rootfs(self, paths: StackPaths, arch: str) -> Path:
        return paths.rootfs_cache / f"{self.slug}-{arch}-{self.rootfs_recipe}.tar.gz"


# The rust image stands in for Docker Hub's rust:1-bookworm with Debian's rustc 1.63,
# which is why Cargo.toml declares rust-version 1.63 and Cargo.lock stays at version 3.
BASE_IMAGES = (
    BaseImage("library/debian", "bookworm-slim"),
    BaseImage("library/rust", "1-bookworm", include=("rustc", "cargo", "gcc", "libc6-dev")),
)

# debootstrap's own progress lines, one per package: "I: Retrieving bash 5.2.15-2+b13",
# "I: Extracting bash...", "I: Unpacking bash...", "I: Configuring bash...". Lines about
# several ("I: Unpacking required packages...") have two words and do not match.
PACKAGE_LINE = re.compile(r"^I: (Retrieving|Extracting|Unpacking|Configuring) \S+?(\.\.\.| \S+)$")
STAGES = {
    "Retrieving": "downloading",
    "Extracting": "extracting",
    "Unpacking": "unpacking",
    "Configuring": "configuring",
}


def debootstrap_progress(log: str) -> str:
    """Where a debootstrap is, from its log: the stage and its packages done of the total
    (the total is known once the downloads are done), e.g. 'configuring 45/120 packages'."""
    counts = dict.fromkeys(STAGES, 0)
    last = ""
    for line in log.splitlines():
        found = PACKAGE_LINE.match(line.strip())
        if found:
            counts[found.group(1)] += 1
            last = found.group(1)
    if not last:
        return "resolving packages"
    if last == "Retrieving":
        return f"downloading: {counts[last]} packages so far"
    total = counts["Retrieving"]
    # debootstrap configures a few packages twice (required, then base): never past the total.
    return f"{STAGES[last]} {min(counts[last], total)}/{total} packages"


@dataclass
class RootfsJob:
    """One root filesystem being made, and what its progress line shows."""

    image: BaseImage
    arch: str
    paths: StackPaths
    stage: str = "waiting"
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def label(self) -> str:
        return f"{self.image.repository.removeprefix('library/')}:{self.image.tag} {self.arch}"

    @property
    def log(self) -> Path:
        return self.paths.logfile(f"debootstrap-{self.image.slug}-{self.arch}")

    def line(self) -> str:
        took = (self.finished or time.monotonic()) - self.started
        stage = self.stage
        if stage == "debootstrap":
            try:
                stage = debootstrap_progress(self.log.read_text(errors="replace"))
            except OSError:
                stage = "starting"
            if self.arch != "amd64" and stage.startswith(("unpacking", "configuring")):
                stage += " under qemu"
        return f"  {self.label}: {stage}, {took:.0f} s"


def run_logged(argv: list[str], log: Path, what: str) -> None:
    with log.open("ab") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        last = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise ReleaseError(f"{what} failed (exit {result.returncode}: {last})", f"read {log}")


def build_rootfs(job: RootfsJob) -> Path:
    image, arch, paths = job.image, job.arch, job.paths
    target = image.rootfs(paths, arch)
    if target.exists() and diff_id_file(target).exists():
        job.stage = "ready (cached)"
        job.finished = job.started
        return target
    job.started = time.monotonic()
    job.stage = "debootstrap"
    work = paths.rootfs_cache / f"work-{image.slug}-{arch}"
    shutil.rmtree(work, ignore_errors=True)
    # Each job its own download cache: four debootstraps run at once.
    debs = paths.rootfs_cache / f"debs-{image.slug}-{arch}"
    debs.mkdir(parents=True, exist_ok=True)
    job.log.write_bytes(b"")
    argv = ["debootstrap", "--variant=minbase", f"--arch={arch}", f"--cache-dir={debs}"]
    if image.include:
        argv.append("--include=" + ",".join(image.include))
    foreign = arch != "amd64"
    if foreign:
        argv.append("--foreign")
    what = f"debootstrap {image.tag} {arch}"
    run_logged([*argv, SUITE, str(work), debian_mirror()], job.log, what)
    if foreign:
        second = ["chroot", str(work), "/debootstrap/debootstrap", "--second-stage"]
        run_logged(second, job.log, f"debootstrap second stage {image.tag} {arch}")
    for leftover in (work / "var/cache/apt/archives").glob("*.deb"):
        leftover.unlink()
    for leftover in (work / "var/lib/apt/lists").glob("*"):
        if leftover.is_file():
            leftover.unlink()
    job.stage = "packing the root filesystem"
    pack(work, target)
    shutil.rmtree(work, ignore_errors=True)
    job.stage = "ready"
    job.finished = time.monotonic()
    return target


def diff_id_file(archive: Path) -> Path:
    return archive.with_name(archive.name + ".diff-id")


def pack(root: Path, target: Path) -> None:
    """tar the root filesystem into a gzip layer, and keep the uncompressed tar's digest (the
    layer's diff_id, which the image configuration names) beside it."""
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(root), "-c", "."], stdout=subprocess.PIPE
    )
    if tar.stdout is None:
        raise ReleaseError("tar gave no output pipe")
    with (
        partial.open("wb") as out,
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0) as packed,
    ):
        while chunk := tar.stdout.read(1 << 20):
            digest.update(chunk)
            packed.write(chunk)
    tar.stdout.close()
    if tar.wait() != 0:
        partial.unlink(missing_ok=True)
        raise ReleaseError(f"packing {root.name} failed (tar exit {tar.returncode})")
    diff_id_file(target).write_text(f"sha256:{digest.hexdigest()}\n")
    partial.replace(target)


def build_all_rootfs(jobs: list[RootfsJob]) -> None:
    """Every root filesystem at once: the downloads overlap, and each emulated second stage
    runs beside the native work instead of after it."""
    if not jobs:
        return
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(build_rootfs, job) for job in jobs]
        try:
            for future in futures:
                future.result()
        finally:
            for job in jobs:
                job.finished = job.finished or time.monotonic()


def published(image: BaseImage) -> bool:
    return MIRROR.has_manifest(image.repository, image.recipe_tag) and MIRROR.has_manifest(
        image.repository, image.tag
    )


def publish(image: BaseImage, paths: StackPaths, say: Callable[[str], None]) -> None:
    """Push each architecture's root filesystem as a one-layer image, then the index naming
    both, tagged as Docker Hub names it. The archive is the layer as it is: nothing is
    unpacked or compressed again."""
    from release.oci import Manifest, RegistryClient, digest_of

    client = RegistryClient(MIRROR.address)
    descriptors = []
    for arch in ARCHITECTURES:
        archive = image.rootfs(paths, arch)
        layer = archive.read_bytes()
        layer_digest = digest_of(layer)
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "config": IMAGE_CONFIG,
                "rootfs": {
                    "type": "layers",
                    "diff_ids": [diff_id_file(archive).read_text().strip()],
                },
            },
            sort_keys=True,
        ).encode()
        say(f"  {image.repository}:{image.tag} {arch}: pushing {len(layer) / 1e6:.0f} MB")
        client.put_blob(image.repository, layer_digest, layer)
        client.put_blob(image.repository, digest_of(config), config)
        manifest = Manifest(
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": MANIFEST_TYPE,
                    "config": {
                        "mediaType": CONFIG_TYPE,
                        "digest": digest_of(config),
                        "size": len(config),
                    },
                    "layers": [
                        {"mediaType": LAYER_TYPE, "digest": layer_digest, "size": len(layer)}
                    ],
                }
            ).encode(),
            MANIFEST_TYPE,
        )
        client.put_manifest(image.repository, manifest.digest, manifest)
        descriptors.append(
            {
                "mediaType": MANIFEST_TYPE,
                "digest": manifest.digest,
                "size": len(manifest.data),
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = Manifest(
        json.dumps(
            {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": descriptors}
        ).encode(),
        INDEX_TYPE,
    )
    # The recipe tag last: it is what says this recipe is published.
    for tag in (image.tag, image.recipe_tag):
        client.put_manifest(image.repository, tag, index)


def missing() -> list[BaseImage]:
    """The base images whose recipe the mirror does not have yet."""
    return [image for image in BASE_IMAGES if not published(image)]


def rootfs_jobs(images: list[BaseImage], paths: StackPaths) -> list[RootfsJob]:
    return [RootfsJob(image, arch, paths) for image in images for arch in ARCHITECTURES]


def publish_all(images: list[BaseImage], paths: StackPaths, say: Callable[[str], None]) -> None:
    for image in images:
        publish(image, paths, say)
