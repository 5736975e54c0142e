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
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from devstack.debs import write_uncompressed
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
# One history entry per layer, as every image has: tools that name a layer by the step that
# made it (release.reproduce) count the base image's layers through these.
IMAGE_HISTORY = [
    {"created_by": "ADD rootfs.tar.gz / # debootstrap minbase, by the barycenter stack"},
    {"created_by": 'CMD ["bash"]', "empty_layer": True},
]
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"


@dataclass(frozen=True)
class BaseImage:
    repository: str
    tag: str
    # Packages beyond debootstrap's minbase, installed on top of that image's tree.
    include: tuple[str, ...] = ()

    @property
    def rootfs_recipe(self) -> str:
        """A digest of everything that shapes the root filesystem, to key the on-disk cache."""
        text = "\n".join((SUITE, "minbase", "then dpkg -i", *self.include))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def recipe(self) -> str:
        """The root filesystem's recipe and the image configuration: the mirror's tag key."""
        image = json.dumps([IMAGE_CONFIG, IMAGE_HISTORY], sort_keys=True)
        text = "\n".join((self.rootfs_recipe, image))
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


# dpkg's own lines while it installs the extra packages: "Unpacking rustc (1.63.0+dfsg1-2) ...".
DPKG_LINE = re.compile(r"^(Unpacking|Setting up) (\S+) ")


def dpkg_progress(log: str, total: int) -> str:
    """Where `dpkg -i` of `total` packages is, from its output."""
    unpacked = configured = 0
    for line in log.splitlines():
        found = DPKG_LINE.match(line)
        if found:
            unpacked += found.group(1) == "Unpacking"
            configured += found.group(1) == "Setting up"
    if configured:
        return f"configuring {min(configured, total)}/{total} packages"
    return f"unpacking {min(unpacked, total)}/{total} packages"


@dataclass
class RootfsJob:
    """One root filesystem being made, and what its progress line shows."""

    image: BaseImage
    arch: str
    paths: StackPaths
    stage: str = "waiting"
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    # While dpkg installs the included packages: how many.
    installing: int = 0

    @property
    def label(self) -> str:
        return f"{self.image.repository.removeprefix('library/')}:{self.image.tag} {self.arch}"

    @property
    def log(self) -> Path:
        return self.paths.logfile(f"debootstrap-{self.image.slug}-{self.arch}")

    @property
    def work(self) -> Path:
        return self.paths.rootfs_cache / f"work-{self.image.slug}-{self.arch}"

    @property
    def debs(self) -> Path:
        return self.paths.rootfs_cache / f"debs-{self.image.slug}-{self.arch}"

    @property
    def emulated(self) -> bool:
        """Whether dpkg runs under qemu in this tree (the stack's machines are amd64)."""
        return self.arch != "amd64"

    @property
    def uncompressed_debs(self) -> Path:
        """The downloaded packages rewritten for dpkg under qemu (devstack/debs.py)."""
        return self.paths.rootfs_cache / f"uncompressed-{self.image.slug}-{self.arch}"

    def line(self) -> str:
        took = (self.finished or time.monotonic()) - self.started
        stage = self.stage
        try:
            if stage == "debootstrap":
                stage = debootstrap_progress(self.log.read_text(errors="replace"))
            elif stage == "dpkg":
                stage = dpkg_progress(self.log.read_text(errors="replace"), self.installing)
        except OSError:
            stage = "starting"
        if self.arch != "amd64" and stage.startswith(("unpacking", "configuring")):
            stage += " under qemu"
        return f"  {self.label}: {stage}, {took:.0f} s"


# Set when stack.up stops (a failed phase, Ctrl-C, SIGTERM) while root filesystems are made
# in the background: each debootstrap or dpkg is stopped with its children, not waited for.
CANCEL = threading.Event()


def run_logged(argv: list[str], log: Path, what: str) -> None:
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while process.poll() is None:
                if CANCEL.wait(0.5):
                    raise ReleaseError(f"{what} stopped", "run stack.up again")
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
    if process.returncode != 0:
        last = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise ReleaseError(f"{what} failed (exit {process.returncode}: {last})", f"read {log}")


def cached(job: RootfsJob) -> bool:
    target = job.image.rootfs(job.paths, job.arch)
    if target.exists() and diff_id_file(target).exists():
        job.stage = "ready (cached)"
        job.finished = job.started
        return True
    return False


def debootstrap_tree(job: RootfsJob) -> Path:
    """debootstrap's minbase, in the job's work tree; the foreign second stage under qemu."""
    job.started = time.monotonic()
    job.stage = "debootstrap"
    shutil.rmtree(job.work, ignore_errors=True)
    job.debs.mkdir(parents=True, exist_ok=True)
    job.log.write_bytes(b"")
    argv = ["debootstrap", "--variant=minbase", f"--arch={job.arch}", f"--cache-dir={job.debs}"]
    if job.emulated:
        argv.append("--foreign")
    what = f"debootstrap {job.image.tag} {job.arch}"
    run_logged([*argv, SUITE, str(job.work), debian_mirror()], job.log, what)
    if job.emulated:
        # The packages the second stage installs under qemu, where the first stage put them.
        for deb in (job.work / "var/cache/apt/archives").glob("*.deb"):
            write_uncompressed(deb, deb)
        second = ["chroot", str(job.work), "/debootstrap/debootstrap", "--second-stage"]
        run_logged(second, job.log, f"debootstrap second stage {job.image.tag} {job.arch}")
    clean(job.work)
    return job.work


def download_included(job: RootfsJob) -> list[Path]:
    """Every package minbase plus the image's includes need, downloaded natively (no
    emulation), while the tree they go on is being made."""
    job.started = time.monotonic()
    job.stage = "debootstrap"
    scratch = job.paths.rootfs_cache / f"download-{job.image.slug}-{job.arch}"
    shutil.rmtree(scratch, ignore_errors=True)
    # Only this download's packages: an older version left by an earlier one would give
    # dpkg two versions of one package.
    shutil.rmtree(job.debs, ignore_errors=True)
    job.debs.mkdir(parents=True)
    job.log.write_bytes(b"")
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--arch={job.arch}",
        f"--cache-dir={job.debs}",
        "--download-only",
        "--include=" + ",".join(job.image.include),
    ]
    what = f"downloading {job.image.tag} {job.arch}"
    run_logged([*argv, SUITE, str(scratch), debian_mirror()], job.log, what)
    shutil.rmtree(scratch, ignore_errors=True)
    debs = sorted(job.debs.glob("*.deb"))
    if job.emulated:
        job.stage = f"rewriting {len(debs)} packages uncompressed"
        shutil.rmtree(job.uncompressed_debs, ignore_errors=True)
        job.uncompressed_debs.mkdir(parents=True)
        for deb in debs:
            write_uncompressed(deb, job.uncompressed_debs / deb.name)
    job.stage = f"downloaded {len(debs)} packages, waiting for the slim tree"
    return debs


def installed_packages(tree: Path) -> set[tuple[str, str]]:
    """(name, version) of each package dpkg's database in `tree` says is installed."""
    installed = set()
    for stanza in (tree / "var/lib/dpkg/status").read_text(errors="replace").split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if fields.get("Status", "").endswith(" installed"):
            installed.add((fields.get("Package", ""), fields.get("Version", "")))
    return installed


def package_of(deb: Path) -> tuple[str, str]:
    fields = subprocess.run(
        ["dpkg-deb", "--field", str(deb), "Package", "Version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split(": ", 1) for line in fields.splitlines() if ": " in line)
    return values["Package"], values["Version"]


def install_on(base: Path, job: RootfsJob, debs: list[Path]) -> Path:
    """The base image's tree plus the packages it lacks, installed by dpkg inside it (under
    qemu for arm64): only these are emulated, not the whole system again."""
    job.stage = "copying the base tree"
    shutil.rmtree(job.work, ignore_errors=True)
    subprocess.run(["cp", "-a", str(base), str(job.work)], check=True)
    have = installed_packages(job.work)
    extras = [deb for deb in debs if package_of(deb) not in have]
    # Where apt keeps the packages it installs; clean() empties it again.
    archives = Path("/var/cache/apt/archives")
    for deb in extras:
        source = job.uncompressed_debs / deb.name if job.emulated else deb
        shutil.copy2(source, job.work / archives.relative_to("/") / deb.name)
    job.installing = len(extras)
    job.stage = "dpkg"
    argv = ["chroot", str(job.work), "dpkg", "--force-unsafe-io", "-i"]
    run_logged(
        [*argv, *(str(archives / deb.name) for deb in extras)],
        job.log,
        f"installing {', '.join(job.image.include)} into {job.image.tag} {job.arch}",
    )
    clean(job.work)
    return job.work


def clean(tree: Path) -> None:
    archives = tree / "var/cache/apt/archives"
    # A rewrite's `.NAME.partial` too (devstack/debs.py), were one ever left there.
    for leftover in [*archives.glob("*.deb"), *archives.glob(".*.partial")]:
        leftover.unlink()
    for leftover in (tree / "var/lib/apt/lists").glob("*"):
        if leftover.is_file():
            leftover.unlink()


def finish(job: RootfsJob, tree: Path) -> None:
    job.stage = "packing the root filesystem"
    pack(tree, job.image.rootfs(job.paths, job.arch))
    job.stage = "ready"
    job.finished = time.monotonic()


def build_arch(jobs: list[RootfsJob]) -> None:
    """One architecture's images: minbase by debootstrap, each other image on a copy of its
    tree. The other images' packages download beside minbase's debootstrap."""
    base, *layered = jobs
    todo = [job for job in layered if not cached(job)]
    with ThreadPoolExecutor(max_workers=1 + len(todo)) as pool:
        downloads = {job.image.tag: pool.submit(download_included, job) for job in todo}
        if cached(base):
            if not todo:
                return
            base.stage = "ready (cached); unpacking it for the images on top"
            shutil.rmtree(base.work, ignore_errors=True)
            base.work.mkdir(parents=True)
            archive = base.image.rootfs(base.paths, base.arch)
            subprocess.run(["tar", "-xzf", str(archive), "-C", str(base.work)], check=True)
            tree = base.work
        else:
            tree = debootstrap_tree(base)
            finish(base, tree)
        for job in todo:
            finish(job, install_on(tree, job, downloads[job.image.tag].result()))
            shutil.rmtree(job.work, ignore_errors=True)
            shutil.rmtree(job.uncompressed_debs, ignore_errors=True)
    shutil.rmtree(base.work, ignore_errors=True)


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
    """Each architecture at once: amd64's native work runs beside arm64's emulated work."""
    if not jobs:
        return
    by_arch = [[job for job in jobs if job.arch == arch] for arch in ARCHITECTURES]
    with ThreadPoolExecutor(max_workers=len(by_arch)) as pool:
        futures = [pool.submit(build_arch, arch_jobs) for arch_jobs in by_arch if arch_jobs]
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
                "history": IMAGE_HISTORY,
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
    """A job for every image and architecture: the first image (minbase) is the tree the
    others are installed on, so it has a job whenever any image is missing."""
    if not images:
        return []
    return [RootfsJob(image, arch, paths) for image in BASE_IMAGES for arch in ARCHITECTURES]


def publish_all(images: list[BaseImage], paths: StackPaths, say: Callable[[str], None]) -> None:
    for image in images:
        publish(image, paths, say)
