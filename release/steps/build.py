"""release.build: one buildx build per platform, each with its own cache, pushed by platform;
the binary extracted from the `bin` stage into dist/ with SHA256SUMS.

Platforms build concurrently, each with a log file and a live line on a terminal; when one
fails, the other is stopped and the error names the platform and the failing Dockerfile step.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import tarfile
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path

from python_on_whales import docker
from python_on_whales.exceptions import DockerException

from release import cargo, registry
from release.context import ReleaseContext
from release.errors import PreflightError, ReleaseError
from release.images import STEP, BuildRequest, arch_of, build, failing_step
from devstack.engine import probe
from release.steps import Action, Check, checks

UNAUTHORIZED = ("401 unauthorized", "authentication required", "no basic auth credentials")


def platform_tag(ctx: ReleaseContext, platform: str) -> str:
    """The per-platform reference release.publish assembles the index from."""
    return f"{ctx.image}:{ctx.tag}-{arch_of(platform)}"


def archive_name(ctx: ReleaseContext, platform: str) -> str:
    return f"barycenter-{ctx.tag}-linux-{arch_of(platform)}.tar.gz"


class BuildPreflight(Check):
    def run(self, ctx: ReleaseContext) -> None:
        repo = ctx.repo
        problems = []
        commit = repo.tag_target(ctx.tag)
        if commit is None:
            problems.append(
                f"tag {ctx.tag} does not exist here: git fetch --tags, or run release.tag"
            )
        else:
            ctx.revision = commit
            if repo.rev("HEAD") != commit:
                problems.append(f"HEAD is not {ctx.tag}: git switch --detach {ctx.tag}")
            manifest = repo.file_at(commit, "Cargo.toml")
            declared = cargo.version_in_manifest(manifest) if manifest else None
            if declared != str(ctx.version):
                problems.append(
                    f"Cargo.toml at {ctx.tag} says {declared}, not {ctx.version}: "
                    "the tag is not a release commit of this version"
                )
        problems += checks.clean(repo)
        unknown = [p for p in ctx.platforms if p not in ctx.config.platforms]
        if unknown:
            problems.append(
                f"platform {', '.join(unknown)} is not configured: "
                f"use one of {', '.join(ctx.config.platforms)}"
            )
        if probe() is None:
            problems.append("no Docker engine answers: invoke stack.up, or set DOCKER_HOST")
        if problems:
            raise PreflightError(problems)
        registry.login_for(ctx.image, ctx.config)
        created = repo.commit_time(commit or "HEAD")
        ctx.created = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ctx.source_date_epoch = created


def request_for(ctx: ReleaseContext, platform: str, **changes: object) -> BuildRequest:
    fields: dict[str, object] = {
        "platform": platform,
        "version": str(ctx.version),
        "revision": ctx.revision,
        "created": ctx.created,
        "cache_dir": ctx.config.cache_path,
        "source_url": ctx.config.source_url,
        "cache_kind": ctx.config.cache,
        "cache_ref": ctx.config.cache_ref,
        "source_date_epoch": ctx.source_date_epoch,
    }
    fields.update(changes)
    return BuildRequest(**fields)  # type: ignore[arg-type]


def stop_builds_of(platform: str) -> None:
    """Interrupt our own buildx processes for `platform`, as Ctrl-C would."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = stat.rsplit(")", 1)[1].split()[1]
        if parent == me and b"buildx" in command and platform.encode() in command:
            os.kill(int(entry.name), signal.SIGINT)


class BuildImages(Action):
    name = "build and push each platform's image"

    def done(self, ctx: ReleaseContext) -> bool:
        return all(self.pushed(ctx, platform) for platform in ctx.platforms)

    def pushed(self, ctx: ReleaseContext, platform: str) -> bool:
        reference = platform_tag(ctx, platform)
        if registry.manifest(reference, registry.login_hint(ctx.config)) is None:
            return False
        configs = registry.image_configs(reference)
        return any(
            c.platform == platform
            and c.labels.get("org.opencontainers.image.version") == str(ctx.version)
            and c.labels.get("org.opencontainers.image.revision") == ctx.revision
            for c in configs.values()
        )

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [
            f"docker buildx build --platform {platform} --push -t {platform_tag(ctx, platform)} "
            f"(cache: {ctx.config.cache}, log: {self.log(ctx, platform)})"
            for platform in ctx.platforms
        ]

    @staticmethod
    def log(ctx: ReleaseContext, platform: str) -> Path:
        return ctx.config.dist_path / "logs" / f"build-linux-{arch_of(platform)}.log"

    def run(self, ctx: ReleaseContext) -> None:
        (ctx.config.dist_path / "logs").mkdir(parents=True, exist_ok=True)
        todo = [p for p in ctx.platforms if not self.pushed(ctx, p)]
        display = BuildDisplay(todo, ctx)

        def one(platform: str) -> str:
            metadata = ctx.config.dist_path / "logs" / f"metadata-linux-{arch_of(platform)}.json"
            request = request_for(
                ctx,
                platform,
                tags=(platform_tag(ctx, platform),),
                push=True,
                metadata_file=metadata,
            )
            lines: list[str] = []

            def seen(line: str) -> None:
                lines.append(line)
                display.update(platform, line)

            try:
                report = build(
                    docker,
                    ctx.repo.root,
                    ctx.config.dockerfile_path,
                    request,
                    self.log(ctx, platform),
                    on_line=seen,
                )
            except DockerException:
                if any(marker in line.lower() for line in lines for marker in UNAUTHORIZED):
                    raise ReleaseError(
                        f"{platform}: the registry refused the push of "
                        f"{platform_tag(ctx, platform)} (unauthorized)",
                        registry.login_hint(ctx.config),
                    ) from None
                step = failing_step(lines) or "an unknown step"
                raise ReleaseError(
                    f"{platform} failed at {step}",
                    f"read {self.log(ctx, platform)}",
                ) from None
            digest = str(json.loads(metadata.read_text())["containerimage.digest"])
            ctx.say(
                f"  {platform}: pushed {platform_tag(ctx, platform)} ({digest}); "
                f"{len(report.steps)} steps, {len(report.uncached_steps)} not from cache"
            )
            return digest

        interrupted: list[str] = []
        with display, ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
            futures = {pool.submit(one, p): p for p in todo}
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            if pending and any(f.exception() for f in done):
                for future in pending:
                    interrupted.append(futures[future])
                    stop_builds_of(futures[future])
        failures = {futures[f]: e for f in futures if (e := f.exception()) is not None}
        causes = [error for platform, error in failures.items() if platform not in interrupted]
        if causes:
            first = causes[0]
            if not isinstance(first, ReleaseError):
                raise first
            stopped = [p for p in interrupted if p in failures]
            suffix = f"; stopped {', '.join(stopped)}" if stopped else ""
            raise ReleaseError(f"{first.problem}{suffix}", first.fix)


class BuildDisplay:
    """A live line per platform on a terminal; elsewhere (CI logs) one line per new step."""

    def __init__(self, platforms: list[str], ctx: ReleaseContext) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.say = ctx.say
        self.live = self.console.is_terminal
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.rows = {p: self.progress.add_task(p, total=None) for p in platforms}
        self.lock = threading.Lock()

    def __enter__(self) -> BuildDisplay:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.stop()

    def update(self, platform: str, line: str) -> None:
        match = STEP.match(line.strip())
        if match is None:
            return
        step = f"[{match['stage']}] {match['what']}"[:90]
        if self.live:
            self.progress.update(self.rows[platform], description=f"{platform}  {step}")
        else:
            with self.lock:
                self.say(f"  {platform}: {step}")


def deterministic_tar_gz(binary: bytes, name: str, mtime: int) -> bytes:
    """A .tar.gz holding `name`, identical for identical input (fixed owner, mode and time)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(binary), 0o755, mtime
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        archive.addfile(info, io.BytesIO(binary))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=mtime)


class ExtractBinaries(Action):
    name = "extract the binaries into dist/"

    def done(self, ctx: ReleaseContext) -> bool:
        dist = ctx.config.dist_path
        return (
            all((dist / archive_name(ctx, p)).exists() for p in ctx.platforms)
            and (dist / "SHA256SUMS").exists()
        )

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [
            f"docker buildx build --platform {p} --target bin --output type=local "
            f"-> dist/{archive_name(ctx, p)}"
            for p in ctx.platforms
        ] + ["write dist/SHA256SUMS"]

    def run(self, ctx: ReleaseContext) -> None:
        dist = ctx.config.dist_path
        for platform in ctx.platforms:
            extracted = dist / "logs" / f"bin-linux-{arch_of(platform)}"
            request = request_for(ctx, platform, target="bin", output_dir=extracted)
            build(
                docker,
                ctx.repo.root,
                ctx.config.dockerfile_path,
                request,
                dist / "logs" / f"extract-linux-{arch_of(platform)}.log",
            )
            binary = (extracted / "barycenter").read_bytes()
            archive = deterministic_tar_gz(binary, "barycenter", ctx.source_date_epoch)
            (dist / archive_name(ctx, platform)).write_bytes(archive)
        write_checksums(dist, ctx.tag)


def write_checksums(dist: Path, tag: str) -> None:
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n"
        for path in sorted(dist.glob(f"barycenter-{tag}-linux-*.tar.gz"))
    ]
    (dist / "SHA256SUMS").write_text("".join(lines))


BUILD = (BuildPreflight(), BuildImages(), ExtractBinaries())
