"""stack.up, stack.status and stack.down: bring the local release stack up, report it, stop it."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from devstack import baseimages, engine, machine, packages, progress, registry, services
from devstack.paths import StackPaths
from release.errors import ReleaseError

console = Console(highlight=False)


@dataclass(frozen=True)
class Component:
    name: str
    ok: bool
    detail: str
    log: str = ""
    # Not needed to rehearse: a missing one is reported, not refused (the user path's cosign).
    optional: bool = False


def timed(label: str, action: Callable[[], object], watch: bool = True) -> object:
    """Run one phase and print its time; a phase that reports its own progress says so."""
    started = time.monotonic()
    if watch:
        with progress.reporting(console, lambda seconds: [f"  {label}: {seconds:.0f} s so far"]):
            result = action()
    else:
        result = action()
    console.print(f"  {label}: {time.monotonic() - started:.1f} s")
    return result


def up(paths: StackPaths | None = None) -> list[Component]:
    paths = paths or StackPaths.from_environment()
    if paths.user:
        return user_up(paths)
    # Before anything is written or installed: may the stack install on this machine at all?
    facts = machine.read_facts(
        services.read_pid(paths.pidfile("dockerd")), packages.engine_marker(paths).exists()
    )
    refused = machine.refusal(facts)
    if refused:
        raise ReleaseError(*refused)
    paths.ensure()
    started = time.monotonic()
    console.print(f"stack.up (state in {paths.root})")
    external = engine.external_engine_requested()
    # apt simulates every install first: a refusal comes before any package is installed.
    timed("apt's simulation of the installs", lambda: packages.preflight(paths, not external))
    timed("system packages", lambda: packages.ensure_bookworm_packages(paths))
    timed("arm64 emulation", engine.ensure_binfmt)
    for each in (registry.TARGET, registry.MIRROR):
        timed(
            f"{each.name} on {each.address}",
            functools.partial(registry.ensure_registry, each, paths),
        )
    # The base images' root filesystems need neither the engine nor cosign: they are made
    # while those install, since the arm64 ones (emulated) are what takes longest.
    missing = [] if external else baseimages.missing()
    jobs = baseimages.rootfs_jobs(missing, paths)
    if jobs:
        console.print(f"  base images: making {len(jobs)} root filesystems in the background")
    watching = (
        progress.reporting(console, lambda _: [job.line() for job in jobs])
        if jobs
        else contextlib.nullcontext()
    )
    baseimages.CANCEL.clear()
    with ThreadPoolExecutor(max_workers=1) as background, watching:
        rootfs = background.submit(baseimages.build_all_rootfs, jobs)
        try:
            if not external:
                timed("docker engine 26 packages", lambda: packages.ensure_engine_packages(paths))
            timed("cosign", lambda: packages.ensure_cosign(paths))
            timed("docker engine", lambda: engine.ensure_engine(paths, registry.MIRROR.address))
            if jobs:
                timed("base images: root filesystems", rootfs.result, watch=False)
            rootfs.result()
        except BaseException:
            # Stop the background debootstraps rather than wait minutes for them.
            baseimages.CANCEL.set()
            raise
    for job in jobs:
        console.print(job.line(), soft_wrap=True)
    if missing:
        timed(
            "base images: pushed to the mirror",
            lambda: baseimages.publish_all(missing, paths, console.print),
            watch=False,
        )
    console.print(f"stack.up finished in {time.monotonic() - started:.1f} s")
    return status(paths)


def status(paths: StackPaths | None = None) -> list[Component]:
    paths = paths or StackPaths.from_environment()
    if paths.user:
        return user_status(paths)
    facts = engine.probe()
    components = [engine_component(facts, paths)]
    components.append(
        Component(
            "buildx",
            bool(facts and facts.buildx_version),
            (facts.buildx_version or "missing") if facts else "no engine",
        )
    )
    components.append(
        Component(
            "arm64 emulation",
            engine.binfmt_aarch64_enabled(),
            "qemu-aarch64 enabled" if engine.binfmt_aarch64_enabled() else "missing",
        )
    )
    for each in (registry.TARGET, registry.MIRROR):
        pid = services.read_pid(paths.pidfile(each.name))
        answers = each.answers()
        detail = f"http://{each.address}" + (f" (pid {pid})" if pid else "")
        components.append(
            Component(
                each.name,
                answers,
                detail if answers else "not running",
                str(paths.logfile(each.name)),
            )
        )
    if not engine.external_engine_requested():
        for image in baseimages.BASE_IMAGES:
            present = baseimages.published(image)
            components.append(
                Component(
                    f"base image {image.repository}:{image.tag}",
                    present,
                    f"in the mirror, recipe {image.recipe}" if present else "missing",
                )
            )
    cosign = packages.cosign_path(paths)
    components.append(
        Component("cosign", cosign.exists(), str(cosign) if cosign.exists() else "missing")
    )
    return components


def engine_component(facts: engine.EngineFacts | None, paths: StackPaths) -> Component:
    if facts is None:
        return Component("docker engine", False, "not running", str(paths.logfile("dockerd")))
    pid = services.read_pid(paths.pidfile("dockerd"))
    owner = f"started by the stack, pid {pid}" if pid else "not started by the stack"
    store = "containerd image store" if facts.containerd_store else "classic image store"
    return Component(
        "docker engine",
        facts.containerd_store,
        f"{facts.server_version}, {store}, {owner}",
        str(paths.logfile("dockerd")) if pid else "",
    )


def down(paths: StackPaths | None = None) -> list[str]:
    """Stop what the stack started, newest first; leave installed packages and caches."""
    paths = paths or StackPaths.from_environment()
    stopped = []
    if paths.user:
        # The user path started no engine and no registry process: its registry is a container.
        from devstack import user_stack

        if services.stop("github-standin", paths_of_rehearsal(paths)):
            stopped.append("github-standin")
        registry_container = user_stack.current_registry()
        if user_stack.remove_registry(registry_container):
            stopped.append(f"{registry_container.name} (container removed)")
        return stopped
    # The default rehearsal sandbox's GitHub stand-in (its own PID file), and where one was
    # kept before sandboxes had their own.
    for pidfile in (
        StackPaths(paths.root / "rehearsal").pidfile("github-standin"),
        paths.pidfile("github-standin"),
    ):
        if services.stop("github-standin", pidfile):
            stopped.append("github-standin")
    for name in ("dockerd", registry.MIRROR.name, registry.TARGET.name):
        if services.stop(name, paths.pidfile(name), timeout=60):
            stopped.append(name)
    return stopped


def paths_of_rehearsal(paths: StackPaths) -> Path:
    return StackPaths(paths.root / "rehearsal").pidfile("github-standin")


def user_up(paths: StackPaths) -> list[Component]:
    """The user path: the engine as it is, this user's registry container, nothing installed."""
    from devstack import user_stack

    started = time.monotonic()
    console.print(f"stack.up (your own Docker engine; state in {paths.root})")
    timed("docker engine, buildx and registry", lambda: user_stack.up(paths), watch=False)
    console.print(f"stack.up finished in {time.monotonic() - started:.1f} s")
    return user_status(paths)


def user_status(paths: StackPaths) -> list[Component]:
    from devstack import user_stack

    try:
        facts: user_stack.UserEngine | None = user_stack.read_engine()
        unreachable = ""
    except ReleaseError as error:
        facts, unreachable = None, str(error)
    if facts is None:
        components = [Component("docker engine", False, unreachable)]
    else:
        store = "containerd image store" if facts.containerd_store else "classic image store"
        refused = user_stack.engine_refusal(facts)
        components = [
            Component(
                "docker engine",
                facts.containerd_store,
                f"{facts.server_version}, {store}, yours (DOCKER_HOST or the default socket)",
            ),
            Component(
                "buildx",
                refused is None,
                f"{facts.buildx_version}; builder {facts.builder}: {', '.join(facts.platforms)}",
            ),
        ]
    registry_container = user_stack.current_registry()
    answers = registry_container.answers()
    state = user_stack.container_state(registry_container.name) if facts else ""
    components.append(
        Component(
            "registry",
            answers,
            f"http://{registry_container.address}, container {registry_container.name}"
            if answers
            else f"not running (container {registry_container.name}: {state or 'none'})",
            f"docker logs {registry_container.name}" if state else "",
        )
    )
    cosign = user_stack.cosign_on_path()
    components.append(
        Component(
            "cosign",
            bool(cosign),
            cosign or "not on PATH: the rehearsal's attest step does not apply without it",
            optional=True,
        )
    )
    return components


def print_status(components: list[Component]) -> None:
    table = Table(title="local release stack")
    table.add_column("component")
    table.add_column("state")
    table.add_column("detail")
    table.add_column("log")
    for component in components:
        state = (
            "[green]ok[/green]"
            if component.ok
            else "[yellow]absent[/yellow]"
            if component.optional
            else "[red]missing[/red]"
        )
        table.add_row(component.name, state, component.detail, component.log)
    console.print(table)
