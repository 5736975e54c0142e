"""Per-platform image builds through buildx: one build per platform, each with its own cache.

This is the adapter the build step and the tests share; it decides nothing about versions or
tags, it only turns a request into one `docker buildx build` and reports what buildkit did.
"""

from __future__ import annotations

import io
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from release.plan import Plan

STEP = re.compile(r"^#(?P<id>\d+) \[(?P<stage>[^\]]+?) +\d+/\d+\] (?P<what>.+)$")
CACHED = re.compile(r"^#(?P<id>\d+) CACHED$")
ELF_MACHINES = {62: "amd64", 183: "arm64"}


def arch_of(platform: str) -> str:
    """`linux/arm64` -> `arm64`; the name used in cache directories and artifact names."""
    return platform.split("/", 1)[1].replace("/", "-")


@dataclass(frozen=True)
class BuildRequest:
    platform: str
    version: str
    revision: str
    created: str
    cache_dir: Path
    source_url: str = ""
    target: str | None = None
    tags: tuple[str, ...] = ()
    load: bool = False
    push: bool = False
    output_dir: Path | None = None
    cache_kind: str = "local"
    cache_ref: str = ""
    metadata_file: Path | None = None
    source_date_epoch: int | None = None
    # BuildKit's own SLSA provenance, recorded in the pushed image (mode=max).
    provenance: bool = False
    # Write the image as an OCI layout tarball, file times rewritten to SOURCE_DATE_EPOCH.
    oci_dest: Path | None = None
    # More build arguments: the pinned base images, the cache mount namespace.
    extra_args: tuple[tuple[str, str], ...] = ()
    # False: no cache at all (no --cache-from/--cache-to, --no-cache): a rebuild from nothing.
    use_cache: bool = True

    @property
    def platform_cache(self) -> Path:
        return self.cache_dir / arch_of(self.platform)

    def cache_options(self) -> tuple[dict[str, str] | None, dict[str, str]]:
        """--cache-from and --cache-to: always this platform's own cache, never a shared one."""
        arch = arch_of(self.platform)
        if self.cache_kind == "registry":
            ref = self.cache_ref.format(arch=arch)
            return {"type": "registry", "ref": ref}, {"type": "registry", "ref": ref, "mode": "max"}
        if self.cache_kind == "gha":
            scope = f"barycenter-{arch}"
            return {"type": "gha", "scope": scope}, {"type": "gha", "scope": scope, "mode": "max"}
        cache = self.platform_cache
        cache.mkdir(parents=True, exist_ok=True)
        source = {"type": "local", "src": str(cache)} if (cache / "index.json").exists() else None
        return source, {"type": "local", "dest": str(cache), "mode": "max"}

    def build_args(self) -> dict[str, str]:
        arguments = {"VERSION": self.version, "REVISION": self.revision, "CREATED": self.created}
        if self.source_url:
            arguments["SOURCE"] = self.source_url
        if self.source_date_epoch is not None:
            arguments["SOURCE_DATE_EPOCH"] = str(self.source_date_epoch)
        arguments.update(self.extra_args)
        return arguments


@dataclass
class BuildReport:
    platform: str
    log: list[str] = field(default_factory=list)

    @property
    def steps(self) -> dict[str, str]:
        return dockerfile_steps(self.log)

    @property
    def uncached_steps(self) -> list[str]:
        return uncached_steps(self.log)


def dockerfile_steps(log: Iterable[str]) -> dict[str, str]:
    """Vertex id -> `[stage n/m] INSTRUCTION` for every Dockerfile step in a plain-progress log."""
    return {
        match["id"]: f"[{match['stage']}] {match['what']}"
        for line in log
        if (match := STEP.match(line.strip()))
    }


def uncached_steps(log: list[str]) -> list[str]:
    """The Dockerfile steps buildkit executed rather than took from a cache.

    FROM lines are resolved, never executed, so they are no evidence either way.
    """
    cached = {match["id"] for line in log if (match := CACHED.match(line.strip()))}
    return [
        step
        for vertex, step in dockerfile_steps(log).items()
        if vertex not in cached and not step.split("] ", 1)[1].startswith("FROM ")
    ]


def build(
    docker: DockerClient,
    context: Path,
    dockerfile: Path,
    request: BuildRequest,
    log_file: Path | None = None,
    on_line: Callable[[str], None] | None = None,
) -> BuildReport:
    """Run one platform's build, caching to and from that platform's own cache (unless the
    request wants none), with SOURCE_DATE_EPOCH in buildx's environment as well as an argument.
    """
    cache_from, cache_to = request.cache_options() if request.use_cache else (None, None)
    output: dict[str, str] = {}
    if request.output_dir is not None:
        output = {"type": "local", "dest": str(request.output_dir)}
    if request.oci_dest is not None:
        output = {"type": "oci", "dest": str(request.oci_dest), "rewrite-timestamp": "true"}
    if request.source_date_epoch is not None:
        docker = with_environment(docker, SOURCE_DATE_EPOCH=str(request.source_date_epoch))
    stream = docker.buildx.build(  # with stream_logs=True, buildx.build yields log lines
        context,
        file=dockerfile,
        platforms=[request.platform],
        build_args=request.build_args(),
        target=request.target,
        tags=list(request.tags),
        load=request.load,
        push=request.push,
        output=output,
        cache_from=cache_from,
        cache_to=cache_to,
        cache=request.use_cache,
        metadata_file=request.metadata_file,
        provenance={"mode": "max"} if request.provenance else False,
        progress="plain",
        stream_logs=True,
    )
    lines = cast(Iterator[str], stream)
    report = BuildReport(request.platform)
    log = log_file.open("w") if log_file else None
    try:
        for line in lines:
            report.log.append(line.rstrip("\n"))
            if on_line is not None:
                on_line(report.log[-1])
            if log:
                log.write(line if line.endswith("\n") else line + "\n")
    finally:
        if log:
            log.close()
    return report


def with_environment(docker: DockerClient, **variables: str) -> DockerClient:
    """The same client, its docker commands run with `variables` set (through env(1))."""
    from dataclasses import replace

    from python_on_whales import DockerClient

    prefix = ["env", *(f"{name}={value}" for name, value in variables.items())]
    config = replace(docker.client_config, client_call=[*prefix, *docker.client_config.client_call])
    return DockerClient(client_config=config)


def failing_step(log: list[str]) -> str | None:
    """The Dockerfile step buildkit reported as failed, from a plain-progress log."""
    steps = dockerfile_steps(log)
    for line in log:
        match = re.match(r"^#(\d+) ERROR", line.strip())
        if match and match[1] in steps:
            return steps[match[1]]
    return None


def elf_architecture(binary: Path | bytes) -> str:
    """The architecture an ELF executable (a file, or its bytes) was compiled for, from its
    e_machine field."""
    header = (binary if isinstance(binary, bytes) else binary.read_bytes())[:20]
    if header[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    byteorder: Literal["little", "big"] = "little" if header[5] == 1 else "big"
    machine = int.from_bytes(header[18:20], byteorder)
    return ELF_MACHINES.get(machine, f"e_machine {machine}")


@contextmanager
def exported_tree(plan: Plan, commit: str) -> Iterator[Path]:
    """The tagged tree, exported with git archive: the build never sees the working tree."""
    from release.oci import extract_data

    with tempfile.TemporaryDirectory(prefix="barycenter-build-") as directory:
        archive = plan.repo.output_bytes("archive", "--format=tar", commit)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tree:
            extract_data(tree, directory)
        yield Path(directory)


def request_for(plan: Plan, commit: str, platform: str, **changes: object) -> BuildRequest:
    epoch = plan.repo.commit_time(commit)
    fields: dict[str, object] = {
        "platform": platform,
        "version": str(plan.version),
        "revision": commit,
        "created": datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cache_dir": plan.config.cache_path,
        "source_url": plan.config.source_url,
        "cache_kind": plan.config.cache,
        "cache_ref": plan.config.cache_ref,
        "source_date_epoch": epoch,
    }
    fields.update(changes)
    return BuildRequest(**fields)  # type: ignore[arg-type]
