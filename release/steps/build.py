"""build, binaries and checksums: one buildx build per platform, each with its own cache, pushed
by platform; the binary extracted from the `bin` stage into dist/vX/; SHA256SUMS over every
platform's archive, written where all of them are.

A run for one platform (`--platform`, one CI job per platform) writes no SHA256SUMS: it would
cover that platform's archive alone, and two of them would land on one path when the jobs'
artifacts are merged. The job that holds every archive (release.yml's `github` job, or a
maintainer's `invoke release.build`) writes it with `invoke release.checksums`.

Builds are reproducible: SOURCE_DATE_EPOCH is the tag's commit time, file times in the layers
are rewritten to it (an OCI layout exported with rewrite-timestamp=true, then pushed as is), and
the base images are pinned by digest, recorded in the provenance and labels. `release.reproduce`
rebuilds from the tag and compares.

Platforms build concurrently, each with a log file and a live line on a terminal; when one
fails, the other is stopped and the error names the platform and the failing Dockerfile step.
"""

from __future__ import annotations

import json
import tempfile
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

from release import processes, registry
from release.archives import (
    archive_problem,
    archives_status,
    checksums_status,
    deterministic_tar_gz,
    every_platform,
)
from release.dist import (
    CHECKSUMS,
    write_atomically,
    write_checksums,
)
from release.errors import ReleaseError
from release.images import STEP, arch_of, build, exported_tree, failing_step, request_for
from release.oci import Layout, Reference, RegistryClient, published_image, push_layout
from release.pins import pin_base_images, recorded_pins
from release.plan import Plan, tagged_commit
from release.steps import ARCHIVES, CHECKSUMS_FILE, PLATFORM_IMAGES, TAG, Need, Say, Status, Step


def engine_problems() -> list[str]:
    """The build needs a Docker engine with buildx; asked through python-on-whales."""
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    try:
        docker.system.info()
    except DockerException:
        return ["no Docker engine answers: start one (invoke stack.up locally), or set DOCKER_HOST"]
    except Exception:
        return ["the docker CLI is missing: install Docker with buildx"]
    return []


def tag_problems(plan: Plan) -> list[str]:
    """Images are built from the tag: it must exist (a need: asked unless this run makes it)."""
    if tagged_commit(plan) is not None:
        return []
    return [
        f"tag {plan.tag} does not exist here: git fetch --tags {plan.remote}, or run "
        f"invoke release.tag --version {plan.version}"
    ]


def platform_image_state(plan: Plan, platform: str, commit: str | None) -> str | None:
    """Why the platform's image is not (yet) the release's, or None when it is."""
    reference = plan.platform_image(platform)
    if commit is None:
        return f"{plan.tag} does not exist yet"
    if (
        registry.manifest(
            reference, registry.login_hint(plan.config), timeout=plan.config.registry_timeout
        )
        is None
    ):
        return f"{reference} is not in the registry"
    for config in registry.image_configs(reference, timeout=plan.config.registry_timeout).values():
        if config.platform != platform:
            continue
        labels = config.labels
        if labels.get("org.opencontainers.image.version") != str(plan.version):
            return f"{reference} is labelled {labels.get('org.opencontainers.image.version')}"
        if labels.get("org.opencontainers.image.revision") != commit:
            return f"{reference} was built from another commit"
        return None
    return f"{reference} holds no {platform} image"


def build_log(plan: Plan, platform: str) -> Path:
    return plan.dist / "logs" / f"build-linux-{arch_of(platform)}.log"


def metadata_path(plan: Plan, platform: str) -> Path:
    """buildx's --metadata-file of the platform's image build."""
    return plan.dist / "logs" / f"metadata-linux-{arch_of(platform)}.json"


def extract_log(plan: Plan, platform: str) -> Path:
    return plan.dist / "logs" / f"extract-linux-{arch_of(platform)}.log"


class BuildsFromTheTag(Step):
    """A step that runs buildx on the tagged tree: it needs the tag and a Docker engine."""

    def check(self, plan: Plan) -> list[str]:
        return engine_problems()

    def needs(self) -> tuple[Need, ...]:
        return (Need(TAG, tag_problems),)

    def tagged(self, plan: Plan) -> str:
        """The tag's commit, which the build runs on (the need was checked before the run)."""
        commit = tagged_commit(plan)
        if commit is None:
            raise ReleaseError(f"tag {plan.tag} is missing", "run the release's tag step first")
        return commit


class BuildImages(BuildsFromTheTag):
    name = "build"
    title = "build and push each platform's image"
    uses_registry = True
    makes = frozenset({PLATFORM_IMAGES})

    def state(self, plan: Plan) -> Status:
        commit = tagged_commit(plan)
        missing = {p: why for p in plan.platforms if (why := platform_image_state(plan, p, commit))}
        if not missing:
            return Status.done(", ".join(plan.platform_image(p) for p in plan.platforms))
        return Status.todo("; ".join(dict.fromkeys(missing.values())))  # a reason said once

    def describe(self, plan: Plan) -> list[str]:
        return [
            f"docker buildx build --platform {platform} --output type=oci,rewrite-timestamp=true "
            f"(SOURCE_DATE_EPOCH={plan.epoch}, base images pinned by digest), "
            f"push it as {plan.platform_image(platform)} "
            f"(from git archive {plan.tag}; cache: {plan.config.cache}, "
            f"log: {build_log(plan, platform)})"
            for platform in plan.platforms
        ]

    def run(self, plan: Plan, say: Say) -> None:
        commit = self.tagged(plan)
        (plan.dist / "logs").mkdir(parents=True, exist_ok=True)
        todo = [p for p in plan.platforms if platform_image_state(plan, p, commit) is not None]
        with exported_tree(plan, commit) as tree:
            pins = pin_base_images(tree / plan.config.dockerfile, plan.config.registry_timeout)
            for name, pinned in pins.items():
                say(f"  {name}={pinned}")
            build_platforms(plan, commit, tree, todo, say, pins)


def push_client(plan: Plan, reference: str) -> RegistryClient:
    return RegistryClient.for_reference(
        Reference.parse(reference),
        plan.config.registry_password_env,
        plan.config.registry_username,
        plan.config.registry_timeout,
    )


def build_platforms(
    plan: Plan, commit: str, tree: Path, todo: list[str], say: Say, pins: dict[str, str]
) -> None:
    """Build `todo` concurrently; when one fails, stop the others and name the failing step."""
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    display = BuildDisplay(todo, say)

    def one(platform: str) -> str:
        with tempfile.TemporaryDirectory(prefix="barycenter-oci-") as scratch:
            return build_and_push(platform, Path(scratch))

    def build_and_push(platform: str, scratch: Path) -> str:
        metadata = metadata_path(plan, platform)
        request = request_for(
            plan,
            commit,
            platform,
            oci_dest=scratch / "image.tar",
            metadata_file=metadata,
            provenance=True,
            extra_args=tuple(pins.items()),
        )
        lines: list[str] = []

        def seen(line: str) -> None:
            lines.append(line)
            display.update(platform, line)

        try:
            report = build(
                docker,
                tree,
                tree / plan.config.dockerfile,
                request,
                build_log(plan, platform),
                on_line=seen,
            )
        except DockerException:
            reference = plan.platform_image(platform)
            if registry.classify(reference, "\n".join(lines)) == "unauthorized":
                raise ReleaseError(
                    f"{platform}: the registry refused the push of {reference} (unauthorized)",
                    registry.login_hint(plan.config),
                ) from None
            step = failing_step(lines) or "an unknown step"
            raise ReleaseError(
                f"{platform} failed at {step}", f"read {build_log(plan, platform)}"
            ) from None
        digest = str(json.loads(metadata.read_text())["containerimage.digest"])
        reference = plan.platform_image(platform)
        layout = Layout.from_tar(scratch / "image.tar", scratch / "layout")
        if layout.top.digest != digest:
            raise ReleaseError(f"{platform}: the OCI layout is not the image buildx reported")
        push_layout(layout, Reference.parse(reference), push_client(plan, reference))
        say(
            f"  {platform}: pushed {plan.platform_image(platform)} ({digest}); "
            f"{len(report.steps)} steps, {len(report.uncached_steps)} not from cache"
        )
        return digest

    interrupted: list[str] = []
    with display, ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
        futures = {pool.submit(one, p): p for p in todo}
        try:
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        except KeyboardInterrupt:
            # A terminal's Ctrl-C reached the builds through our process group; a SIGTERM to
            # us alone (a CI runner's cancel) did not, and the pool would wait out whole
            # builds: they are told as Ctrl-C tells them, and end before we do.
            processes.interrupt_children("buildx")
            raise
        if pending and any(f.exception() for f in done):
            for future in pending:
                interrupted.append(futures[future])
                # Ours alone: the buildx processes building that platform.
                processes.interrupt_children("buildx", futures[future])
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

    def __init__(self, platforms: list[str], say: Say) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.say = say
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


class ExtractBinaries(BuildsFromTheTag):
    name = "binaries"
    title = "extract each platform's binary into dist/"
    makes = frozenset({ARCHIVES})

    def state(self, plan: Plan) -> Status:
        return archives_status(plan)

    def describe(self, plan: Plan) -> list[str]:
        return [
            f"docker buildx build --platform {p} --target bin --output type=local "
            f"-> {plan.dist.name}/{plan.archive(p)}"
            for p in plan.platforms
        ]

    def run(self, plan: Plan, say: Say) -> None:
        from python_on_whales import docker
        from python_on_whales.exceptions import DockerException

        commit = self.tagged(plan)
        dist = plan.dist
        (dist / "logs").mkdir(parents=True, exist_ok=True)
        epoch = plan.repo.commit_time(commit)
        with exported_tree(plan, commit) as tree:
            for platform in plan.platforms:
                if archive_problem(plan, platform, commit) is None:
                    continue
                pins = binary_pins(plan, platform, tree)
                with tempfile.TemporaryDirectory(prefix="barycenter-bin-") as extracted:
                    request = request_for(
                        plan,
                        commit,
                        platform,
                        target="bin",
                        output_dir=Path(extracted),
                        extra_args=tuple(pins.items()),
                    )
                    try:
                        build(
                            docker,
                            tree,
                            tree / plan.config.dockerfile,
                            request,
                            extract_log(plan, platform),
                        )
                    except DockerException:
                        raise ReleaseError(
                            f"extracting the {platform} binary failed",
                            f"read {extract_log(plan, platform)}",
                        ) from None
                    binary = (Path(extracted) / "barycenter").read_bytes()
                archive = deterministic_tar_gz(binary, "barycenter", epoch)
                write_atomically(dist / plan.archive(platform), archive)


def archives_problems(plan: Plan) -> list[str]:
    """Without this run's binaries step, each archive must already be the release's (read by
    content): the checksums vouch for what they cover."""
    if not every_platform(plan):
        return []
    commit = tagged_commit(plan)
    if commit is None:
        return tag_problems(plan)
    return [
        f"{problem}: run invoke release.build --version {plan.version} --platform {platform}"
        f", or put its archive in {plan.dist}"
        for platform in plan.config.platforms
        if (problem := archive_problem(plan, platform, commit))
    ]


class WriteChecksums(Step):
    name = "checksums"
    title = "write SHA256SUMS over every platform's archive in dist/"
    makes = frozenset({CHECKSUMS_FILE})

    def needs(self) -> tuple[Need, ...]:
        return (Need(ARCHIVES, archives_problems),)

    def state(self, plan: Plan) -> Status:
        return checksums_status(plan)

    def describe(self, plan: Plan) -> list[str]:
        if not every_platform(plan):
            return []
        return [f"write {plan.dist.name}/{CHECKSUMS} over {', '.join(plan.archives)}"]

    def run(self, plan: Plan, say: Say) -> None:
        write_checksums(plan.dist, plan.tag)


def binary_pins(plan: Plan, platform: str, tree: Path) -> dict[str, str]:
    """The base images the platform's pushed image was built from, so the binary in dist/ is
    the one in the image; pinned now when the image records none."""
    image = published_image(
        plan.platform_image(platform),
        platform,
        plan.config.registry_password_env,
        plan.config.registry_username,
        plan.config.registry_timeout,
    )
    return recorded_pins(image.provenance if image else None) or pin_base_images(
        tree / plan.config.dockerfile, plan.config.registry_timeout
    )
