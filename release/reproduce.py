"""release.reproduce: rebuild a release from its tag, cold, and compare it with what was
published, byte for byte. Read-only: it pushes nothing and writes nothing into dist/.

Per platform it compares the image manifest digest with the registry's per-platform manifest
(BuildKit's attestation manifests carry build times and are left out), and each archive's
sha256 with dist/SHA256SUMS. When they differ it names the cause it can see: a base image whose
tag moved, the layers that differ with the files in them, the config fields that differ.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from python_on_whales import docker
from python_on_whales.exceptions import DockerException

from release import processes
from release.archives import deterministic_tar_gz
from release.dist import CHECKSUMS, read_checksums, sha256_of
from release.errors import ReleaseError
from release.images import BuildRequest, arch_of, build, exported_tree, failing_step, request_for
from release.oci import Image, Layout, Reference, RegistryClient, Source, published_image
from release.pins import materials, pin_base_images, recorded_pins
from release.plan import Plan, ReleaseOptions, make_plan

# How many file names a layer difference lists before it says how many more there are.
SHOWN_FILES = 20
# Seconds one `docker buildx du` or `prune` of the rebuild's cache mounts may take.
CACHE_TIMEOUT = 120


@dataclass
class LayerDifference:
    position: int
    step: str
    published: str | None
    rebuilt: str | None
    only_published: list[str] = field(default_factory=list)
    only_rebuilt: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


class Compared:
    """What was published against what the rebuild made: a digest each."""

    published: str | None
    rebuilt: str

    @property
    def reproduced(self) -> bool:
        return self.published == self.rebuilt


@dataclass
class PlatformResult(Compared):
    platform: str
    reference: str
    published: str
    rebuilt: str
    seconds: float
    base_images: dict[str, str]
    causes: list[str] = field(default_factory=list)
    layers: list[LayerDifference] = field(default_factory=list)
    config: list[str] = field(default_factory=list)


@dataclass
class ArchiveResult(Compared):
    name: str
    published: str | None
    rebuilt: str
    detail: str = ""


@dataclass
class Report:
    version: str
    tag: str
    commit: str
    source_date_epoch: int
    cache_namespace: str
    platforms: list[PlatformResult]
    archives: list[ArchiveResult]

    @property
    def reproduced(self) -> bool:
        return all(p.reproduced for p in self.platforms) and all(
            a.reproduced for a in self.archives
        )

    @property
    def differing(self) -> list[str]:
        return [f"{p.platform} image" for p in self.platforms if not p.reproduced] + [
            a.name for a in self.archives if not a.reproduced
        ]

    def as_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["reproduced"] = self.reproduced
        for platform, result in zip(document["platforms"], self.platforms, strict=True):
            platform["reproduced"] = result.reproduced
        for archive, archived in zip(document["archives"], self.archives, strict=True):
            archive["reproduced"] = archived.reproduced
        return document


def reproduce(repo: Path, version: str, platform: str = "", image: str = "") -> Report:
    """Rebuild each platform's image and archive of `version` from its tag and compare."""
    plan = make_plan(
        repo, ReleaseOptions(version=version, platform=platform, image=image), frozenset()
    )
    commit = plan.repo.tag_target(plan.tag)
    if commit is None:
        raise ReleaseError(
            f"tag {plan.tag} is not in this clone",
            f"git fetch --tags {plan.remote}, or name a released version",
        )
    sums = published_sums(plan)
    namespace = f"reproduce-{uuid.uuid4().hex[:12]}"
    logs = Path(tempfile.gettempdir()) / f"barycenter-{namespace}"
    logs.mkdir(parents=True)
    with exported_tree(plan, commit) as tree:

        def one(platform: str) -> tuple[PlatformResult, ArchiveResult]:
            with tempfile.TemporaryDirectory(prefix="barycenter-reproduce-") as scratch:
                return rebuild(plan, commit, tree, platform, namespace, Path(scratch), logs, sums)

        try:
            with ThreadPoolExecutor(max_workers=len(plan.platforms)) as pool:
                results = list(pool.map(one, plan.platforms))
        finally:
            forget_cache_mounts(namespace)
    return Report(
        version=str(plan.version),
        tag=plan.tag,
        commit=commit,
        source_date_epoch=plan.repo.commit_time(commit),
        cache_namespace=namespace,
        platforms=[image for image, _ in results],
        archives=[archive for _, archive in results],
    )


def published_sums(plan: Plan) -> dict[str, str]:
    path = plan.dist / CHECKSUMS
    try:
        return read_checksums(path)
    except (OSError, UnicodeDecodeError):
        raise ReleaseError(
            f"{path} is missing",
            f"put the release's {CHECKSUMS} there (from the GitHub release, or release.build)",
        ) from None


def rebuild(
    plan: Plan,
    commit: str,
    tree: Path,
    platform: str,
    namespace: str,
    scratch: Path,
    logs: Path,
    sums: dict[str, str],
) -> tuple[PlatformResult, ArchiveResult]:
    reference = plan.platform_image(platform)
    password = plan.config.registry_password_env
    published = published_image(
        reference, platform, password, plan.config.registry_username, plan.config.registry_timeout
    )
    if published is None:
        raise ReleaseError(
            f"{reference} holds no {platform} image",
            "name the release's image with --image, or publish it with release.build",
        )
    pins = recorded_pins(published.provenance) or pin_base_images(
        tree / plan.config.dockerfile, plan.config.registry_timeout
    )
    arguments = (*pins.items(), ("CACHE_NAMESPACE", f"{namespace}"))
    arch = arch_of(platform)
    started = time.monotonic()
    image_request = request_for(
        plan,
        commit,
        platform,
        oci_dest=scratch / "image.tar",
        provenance=True,
        use_cache=False,
        extra_args=arguments,
    )
    run_build(tree, plan, image_request, logs / f"image-linux-{arch}.log", platform)
    layout = Layout.from_tar(scratch / "image.tar", scratch / "layout")
    local = Source.of_layout(layout)
    rebuilt = local.image(layout.top, platform)
    if rebuilt is None:
        raise ReleaseError(f"the {platform} rebuild holds no {platform} image")
    binary_request = request_for(
        plan,
        commit,
        platform,
        target="bin",
        output_dir=scratch / "bin",
        use_cache=False,
        extra_args=arguments,
    )
    run_build(tree, plan, binary_request, logs / f"bin-linux-{arch}.log", platform)
    seconds = round(time.monotonic() - started, 1)
    result = PlatformResult(
        platform, reference, published.digest, rebuilt.digest, seconds, dict(pins)
    )
    if not result.reproduced:
        parsed = Reference.parse(reference)
        remote = Source.of_registry(
            RegistryClient.for_reference(
                parsed, password, plan.config.registry_username, plan.config.registry_timeout
            ),
            parsed.repository,
        )
        explain(result, published, rebuilt, remote, local)
    binary = (scratch / "bin" / "barycenter").read_bytes()
    name = plan.archive(platform)
    archive = deterministic_tar_gz(binary, "barycenter", plan.repo.commit_time(commit))
    archive_result = ArchiveResult(name, sums.get(name), sha256_of(archive))
    if not archive_result.reproduced:
        archive_result.detail = archive_detail(plan.dist / name, binary, sums.get(name))
    return result, archive_result


def run_build(tree: Path, plan: Plan, request: BuildRequest, log: Path, platform: str) -> None:
    try:
        build(docker, tree, tree / plan.config.dockerfile, request, log)
    except DockerException:
        lines = log.read_text().splitlines() if log.exists() else []
        step = failing_step(lines) or "an unknown step"
        raise ReleaseError(f"the {platform} rebuild failed at {step}", f"read {log}") from None


def forget_cache_mounts(namespace: str) -> None:
    """Drop the rebuild's own cache mounts, one record id at a time, each id checked first to
    match exactly one record: the engine is shared, and a prune whose filter were ignored would
    empty everyone's cache. The release's caches were never touched. Best effort: a command that
    fails or hangs leaves the mounts (buildx runs in a group of its own, stopped whole)."""
    buildx = [*docker.buildx.docker_cmd, "buildx"]

    def output(*args: str) -> str | None:
        try:
            result = processes.run([*buildx, *args], timeout=CACHE_TIMEOUT, own_group=True)
        except processes.ProcessTimeoutError:
            return None
        return result.out if result.ok else None

    records = output("du", "--verbose")
    record = ""
    for line in (records or "").splitlines():
        if line.startswith("ID:"):
            record = line.split()[1].rstrip("*")
        elif line.startswith("Description:") and f'id "/{namespace}-' in line and record:
            matched = output("du", "--verbose", "--filter", f"id={record}") or ""
            if [r for r in matched.splitlines() if r.startswith("ID:")] == [f"ID:\t\t{record}"]:
                output("prune", "--force", "--filter", f"id={record}")


def archive_detail(path: Path, binary: bytes, published: str | None) -> str:
    if published is None:
        return f"{CHECKSUMS} lists no {path.name}"
    try:
        data = path.read_bytes()
    except OSError:
        return f"{path.name} is not in {path.parent} to look inside"
    if sha256_of(data) != published:
        return f"{path.name} in {path.parent} is not the one {CHECKSUMS} lists"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile("barycenter")
        inside = member.read() if member else b""
    if inside != binary:
        return (
            f"the barycenter binary differs (published sha256 "
            f"{sha256_of(inside)}, rebuilt {sha256_of(binary)})"
        )
    return "the binary is identical; the archive around it differs"


def explain(
    result: PlatformResult, published: Image, rebuilt: Image, remote: Source, local: Source
) -> None:
    """Fill in why `published` and `rebuilt` differ: base images, config, layers."""
    before, after = materials(published.provenance), materials(rebuilt.provenance)
    for name, digest in sorted(before.items()):
        now = after.get(name)
        if now is not None and now != digest:
            result.causes.append(
                f"base image {name} moved: the release was built from {digest}, "
                f"the rebuild got {now}"
            )
    if published.provenance is None:
        result.causes.append("the published image carries no provenance to read its bases from")
    result.config = config_differences(published.config, rebuilt.config)
    steps_before, steps_after = layer_steps(published.config), layer_steps(rebuilt.config)
    count = max(len(published.layers), len(rebuilt.layers))
    for position in range(count):
        old = published.layers[position] if position < len(published.layers) else None
        new = rebuilt.layers[position] if position < len(rebuilt.layers) else None
        if old == new:
            continue
        steps = steps_after if position < len(steps_after) else steps_before
        step = steps[position] if position < len(steps) else "?"
        difference = LayerDifference(position + 1, step, old, new)
        files_before = layer_files(remote.blob(old)) if old else {}
        files_after = layer_files(local.blob(new)) if new else {}
        difference.only_published = sorted(set(files_before) - set(files_after))
        difference.only_rebuilt = sorted(set(files_after) - set(files_before))
        difference.changed = [
            f"{path} ({changed_fields(files_before[path], files_after[path])})"
            for path in sorted(set(files_before) & set(files_after))
            if files_before[path] != files_after[path]
        ]
        result.layers.append(difference)


def layer_steps(config: dict[str, Any]) -> list[str]:
    """The instruction that made each layer, from the config's history."""
    return [
        # `RUN |2 A=1 B=2 /bin/sh -c ...`: the arguments in scope are left out.
        RUN_ARGUMENTS.sub("RUN ", str(entry.get("created_by", "?")).removesuffix(" # buildkit"))
        for entry in config.get("history", [])
        if not entry.get("empty_layer")
    ]


RUN_ARGUMENTS = re.compile(r"^RUN \|\d+ (?:\S+=\S* )*")
FIELDS = ("type", "mode", "owner", "mtime", "size", "content", "link")


def layer_files(blob: bytes) -> dict[str, tuple[str, ...]]:
    """Path -> (type, mode, owner, mtime, size, sha256 or '', link target) for a layer."""
    data = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    files: dict[str, tuple[str, ...]] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as layer:
        for member in layer:
            content = ""
            if member.isfile():
                extracted = layer.extractfile(member)
                content = sha256_of(extracted.read() if extracted else b"")
            files[member.name.removeprefix("./").rstrip("/") or "/"] = (
                member.type.decode(errors="replace"),
                oct(member.mode),
                f"{member.uid}:{member.gid}",
                str(int(member.mtime)),
                str(member.size),
                content,
                member.linkname,
            )
    return files


def changed_fields(before: tuple[str, ...], after: tuple[str, ...]) -> str:
    return ", ".join(name for name, a, b in zip(FIELDS, before, after, strict=True) if a != b)


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        flat: dict[str, str] = {}
        for key, inner in value.items():
            flat.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list):
        flat = {}
        for position, inner in enumerate(value):
            flat.update(flatten(inner, f"{prefix}[{position}]"))
        return flat
    return {prefix: json.dumps(value)}


def config_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The image config fields that differ (the layer list aside: layers are compared)."""
    old = {k: v for k, v in flatten(before).items() if not k.startswith("rootfs.")}
    new = {k: v for k, v in flatten(after).items() if not k.startswith("rootfs.")}
    return [
        f"{key}: published {old.get(key, 'absent')}, rebuilt {new.get(key, 'absent')}"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


def shown(paths: list[str]) -> str:
    more = len(paths) - SHOWN_FILES
    return ", ".join(paths[:SHOWN_FILES]) + (f" and {more} more" if more > 0 else "")


def render(report: Report) -> str:
    lines = [
        f"reproduce {report.tag} from {report.commit[:12]} "
        f"(SOURCE_DATE_EPOCH={report.source_date_epoch}; no build cache, "
        f"fresh cache mounts {report.cache_namespace})"
    ]
    for result, archive in zip(report.platforms, report.archives, strict=True):
        if result.reproduced:
            lines.append(
                f"{result.platform} image: reproduced {result.rebuilt} ({result.seconds} s)"
            )
        else:
            lines.append(
                f"{result.platform} image: NOT reproduced: published {result.published}, "
                f"rebuilt {result.rebuilt} ({result.seconds} s)"
            )
            lines.extend(f"  cause: {cause}" for cause in result.causes)
            for layer in result.layers:
                lines.append(
                    f"  layer {layer.position} ({layer.step}): published "
                    f"{layer.published or 'none'}, rebuilt {layer.rebuilt or 'none'}"
                )
                if layer.changed:
                    lines.append(f"    files that differ: {shown(layer.changed)}")
                if layer.only_published:
                    lines.append(f"    only in the published layer: {shown(layer.only_published)}")
                if layer.only_rebuilt:
                    lines.append(f"    only in the rebuilt layer: {shown(layer.only_rebuilt)}")
            lines.extend(f"  config {difference}" for difference in result.config[:SHOWN_FILES])
        if archive.reproduced:
            lines.append(f"{archive.name}: reproduced sha256 {archive.rebuilt}")
        else:
            lines.append(
                f"{archive.name}: NOT reproduced: published sha256 {archive.published or 'none'}, "
                f"rebuilt {archive.rebuilt}"
            )
            if archive.detail:
                lines.append(f"  {archive.detail}")
    return "\n".join(lines)
