"""The Docker engine the stack runs (or an engine the user already has), and arm64 emulation."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack import services
from devstack.paths import StackPaths
from release.errors import ReleaseError

DEFAULT_SOCKET = Path("/var/run/docker.sock")
DOCKERD = Path("/usr/sbin/dockerd")
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
AARCH64_HANDLER = BINFMT_DIR / "qemu-aarch64"


@dataclass(frozen=True)
class EngineFacts:
    server_version: str
    containerd_store: bool
    buildx_version: str | None


def external_engine_requested() -> bool:
    """A user with an engine of their own points DOCKER_HOST at it; the stack then leaves it be."""
    return bool(os.environ.get("DOCKER_HOST"))


def daemon_config(mirror: str) -> dict[str, object]:
    return {
        "registry-mirrors": [f"http://{mirror}"],
        "features": {"containerd-snapshotter": True},
    }


def probe() -> EngineFacts | None:
    """What the engine the docker CLI talks to says of itself, or None when none answers."""
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{json .}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
    if not info.get("ServerVersion"):
        return None
    driver_status = json.dumps(info.get("DriverStatus") or [])
    buildx = subprocess.run(
        ["docker", "buildx", "version"], capture_output=True, text=True, check=False
    )
    return EngineFacts(
        server_version=str(info["ServerVersion"]),
        containerd_store="io.containerd.snapshotter" in driver_status,
        buildx_version=buildx.stdout.strip() if buildx.returncode == 0 else None,
    )


def dockerd_service(paths: StackPaths, mirror: str) -> services.Service:
    paths.daemon_config.write_text(json.dumps(daemon_config(mirror), indent=2) + "\n")
    return services.Service(
        name="dockerd",
        argv=[
            str(DOCKERD),
            f"--config-file={paths.daemon_config}",
            f"--pidfile={paths.pidfile('dockerd')}",
        ],
        ready=lambda: probe() is not None,
        own_pidfile=paths.pidfile("dockerd"),
    )


def ensure_engine(paths: StackPaths, mirror: str) -> EngineFacts:
    """Reuse an engine that answers; start ours only when none does, so there is never a second."""
    facts = probe()
    if facts is None:
        if external_engine_requested():
            raise ReleaseError(
                f"no Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}",
                "start that engine, or unset DOCKER_HOST to let stack.up run its own",
            )
        if DEFAULT_SOCKET.exists() and services.read_pid(paths.pidfile("dockerd")) is None:
            # A socket left by a crashed daemon makes dockerd refuse to start.
            DEFAULT_SOCKET.unlink()
        services.start(dockerd_service(paths, mirror), paths, timeout=90)
        facts = probe()
    if facts is None:
        raise ReleaseError("the Docker engine does not answer", f"read {paths.logfile('dockerd')}")
    if facts.buildx_version is None:
        raise ReleaseError(
            "docker buildx is missing", "install the docker-buildx plugin (stack.up installs it)"
        )
    return facts


def binfmt_aarch64_enabled() -> bool:
    try:
        lines = AARCH64_HANDLER.read_text().splitlines()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags:")), "")
    # F (fix binary) lets the handler work inside containers, whose filesystem lacks qemu.
    return bool(lines) and lines[0] == "enabled" and "F" in flags


def ensure_binfmt() -> None:
    if not (BINFMT_DIR / "register").exists():
        subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)],
            check=True,
            capture_output=True,
        )
    if not binfmt_aarch64_enabled():
        subprocess.run(
            ["update-binfmts", "--enable", "qemu-aarch64"], check=False, capture_output=True
        )
    if not binfmt_aarch64_enabled():
        raise ReleaseError(
            "linux/arm64 emulation is not enabled",
            "install qemu-user-static and binfmt-support (stack.up does), then rerun stack.up",
        )
