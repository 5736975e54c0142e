"""The stack on a maintainer's own machine: their Docker engine already runs, nothing needs root.

Nothing is installed and no engine is started. What the stack adds is one registry container
(`registry:2`, which the user's engine pulls, or finds loaded) published on loopback on a port
and under a name of this user's own, so two users of one machine do not meet. Base images are
whatever the user's engine resolves for the Dockerfile's FROM lines; cosign is the user's own,
on PATH. No /proc, binfmt_misc or /var/lib here: the same code runs under Docker Desktop on macOS.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

from devstack.paths import StackPaths
from devstack.registry import Registry
from release import processes
from release.errors import ReleaseError

REGISTRY_IMAGE = "registry:2"
LABEL = "barycenter-stack=registry"  # on the registry container the stack makes, and only it
FOREIGN = "not the stack's"
# Per-user ports above the stack's own (5000-5004) and below the ephemeral range.
USER_PORT_BASE = 20000
USER_PORT_SPAN = 10000
START_DOCKER = (
    "start Docker (Docker Desktop, or `systemctl start docker`), or point DOCKER_HOST at an "
    "engine that runs, and make sure you may use its socket (the docker group)"
)
NEEDED_PLATFORMS = ("linux/amd64", "linux/arm64")


@dataclass(frozen=True)
class UserEngine:
    server_version: str
    containerd_store: bool
    buildx_version: str
    builder: str
    platforms: tuple[str, ...]


def user_registry(uid: int) -> Registry:
    """This user's registry: its container name and loopback port both follow from the uid."""
    port = USER_PORT_BASE + uid % USER_PORT_SPAN
    return Registry(f"barycenter-registry-{uid}", f"127.0.0.1:{port}")


def current_registry() -> Registry:
    geteuid = getattr(os, "geteuid", None)
    return user_registry(geteuid() if geteuid else 0)


def docker(*args: str, timeout: float = 60) -> processes.Finished:
    return processes.run(
        ["docker", *args], timeout=timeout, missing_fix="install the docker CLI; " + START_DOCKER
    )


def parse_platforms(inspect_output: str) -> tuple[str, ...]:
    """The platforms `docker buildx inspect` lists for its builder's nodes (`Platforms:` lines;
    a `*` marks one the user asked for)."""
    found: list[str] = []
    for line in inspect_output.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Platforms":
            for each in value.split(","):
                name = each.strip().rstrip("*")
                if name and name not in found:
                    found.append(name)
    return tuple(found)


def engine_refusal(engine: UserEngine) -> tuple[str, str] | None:
    """What forbids a rehearsal on this engine, with its fix; None: go ahead."""
    missing = [p for p in NEEDED_PLATFORMS if p not in engine.platforms]
    if missing:
        return (
            f"the buildx builder {engine.builder} cannot build {', '.join(missing)} "
            f"(it lists {', '.join(engine.platforms) or 'no platforms'})",
            "register the emulators (`docker run --privileged --rm tonistiigi/binfmt --install "
            "arm64`; Docker Desktop has them), or `docker buildx use` a builder that can",
        )
    if not engine.containerd_store:
        return (
            f"the engine {engine.server_version} keeps images in the classic store, where "
            "buildx cannot export build caches or push both platforms as one image",
            "turn on the containerd image store (Docker Desktop: Settings > General; Docker "
            'Engine: "features": {"containerd-snapshotter": true} in daemon.json), then restart it',
        )
    return None


def read_engine() -> UserEngine:
    """The user's engine and its builder, or the one-line refusal that names the fix."""
    where = os.environ.get("DOCKER_HOST") or "the default socket"
    try:
        info = docker("info", "--format", "{{.ServerVersion}}|{{json .DriverStatus}}", timeout=20)
    except processes.ProcessTimeoutError:
        no_answer = f"no Docker engine answers at {where} within 20 s"
        raise ReleaseError(no_answer, START_DOCKER) from None
    version, _, driver_status = info.out.strip().partition("|")
    if not info.ok or not version:
        last = (info.stderr.decode(errors="replace").strip().splitlines() or ["no answer"])[-1]
        raise ReleaseError(f"no Docker engine answers at {where} ({last})", START_DOCKER)
    buildx = docker("buildx", "version")
    if not buildx.ok:
        raise ReleaseError(
            "docker buildx is missing",
            "install the buildx plugin (Debian: docker-buildx; Docker's packages: "
            "docker-buildx-plugin; Docker Desktop has it)",
        )
    inspect = docker("buildx", "inspect", "--bootstrap", timeout=120)
    if not inspect.ok:
        last = (inspect.stderr.decode(errors="replace").strip().splitlines() or ["no answer"])[-1]
        raise ReleaseError(
            f"docker buildx inspect failed ({last})", "`docker buildx use default`, then retry"
        )
    builder = next(
        (
            line.partition(":")[2].strip()
            for line in inspect.out.splitlines()
            if line.startswith("Name:")
        ),
        "(unnamed)",
    )
    return UserEngine(
        server_version=version,
        containerd_store="io.containerd.snapshotter" in driver_status,
        buildx_version=buildx.out.strip(),
        builder=builder,
        platforms=parse_platforms(inspect.out),
    )


def container_state(name: str) -> str:
    """The container's state (running, exited, ...), "" when there is none of that name, or
    FOREIGN when the container of that name lacks the label the stack gives its own."""
    found = docker(
        "container", "inspect", "--format",
        '{{.State.Status}}|{{index .Config.Labels "barycenter-stack"}}', name,
    )  # fmt: skip
    if not found.ok:
        return ""
    state, _, label = found.out.strip().partition("|")
    return state if label == "registry" else FOREIGN


def foreign_container(name: str) -> ReleaseError:
    # The user's own container under our name: the stack neither starts nor removes it.
    return ReleaseError(
        f"a container named {name} exists that the stack did not make (no label {LABEL})",
        f"rename or remove that container yourself (`docker rename {name} NEW-NAME`), then retry",
    )


def ensure_registry(registry: Registry) -> str:
    """This user's registry container, running and answering; what was done, in words."""
    state = container_state(registry.name)
    if state == FOREIGN:
        raise foreign_container(registry.name)
    if state == "running" and registry.answers():
        return f"{registry.name} runs"
    if not state and registry.answers():
        raise ReleaseError(
            f"something other than the container {registry.name} already serves {registry.address}",
            f"stop it, or set BARYCENTER_STACK_DIR and run as another user ({registry.name} "
            "takes this user's port)",
        )
    if state:
        started = docker("start", registry.name)
        done = f"{registry.name} started again"
    else:
        host, _, port = registry.address.rpartition(":")
        started = docker(
            "run", "--detach", "--name", registry.name,
            "--label", LABEL,
            "--publish", f"{host}:{port}:5000",
            REGISTRY_IMAGE,
            timeout=600,
        )  # fmt: skip
        done = f"{registry.name} created from {REGISTRY_IMAGE}"
    if not started.ok:
        last = (started.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise ReleaseError(
            f"the registry container {registry.name} did not start ({last})",
            f"`docker pull {REGISTRY_IMAGE}` (or load an image of that name), then retry",
        )
    deadline = time.monotonic() + 30
    while not registry.answers():
        if time.monotonic() > deadline:
            raise ReleaseError(
                f"the registry container {registry.name} does not answer on {registry.address}",
                f"read `docker logs {registry.name}`",
            )
        time.sleep(0.2)
    return done


def remove_registry(registry: Registry) -> bool:
    """Remove this user's registry container and its storage volume; False: there was none."""
    state = container_state(registry.name)
    if not state:
        return False
    if state == FOREIGN:
        raise foreign_container(registry.name)
    removed = docker("rm", "--force", "--volumes", registry.name)
    if not removed.ok:
        last = (removed.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise ReleaseError(
            f"could not remove the container {registry.name} ({last})",
            f"docker rm -f -v {registry.name}",
        )
    return True


def cosign_on_path() -> str:
    """The user's own cosign, or "" when there is none on PATH."""
    return shutil.which("cosign") or ""


def up(paths: StackPaths) -> UserEngine:
    """Check the engine, then start the registry; the state folder is the only thing written."""
    engine = read_engine()
    refused = engine_refusal(engine)
    if refused:
        raise ReleaseError(*refused)
    paths.root.mkdir(parents=True, exist_ok=True)
    ensure_registry(current_registry())
    return engine
