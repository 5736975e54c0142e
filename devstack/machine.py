"""Is this a machine stack.up may install on? Read before anything is installed or started.

stack.up installs Debian packages as root (trixie's docker.io among them, which
`Conflicts: docker-ce`). A maintainer pasting the README's first line on a laptop with Docker CE
must get a refusal, not an apt run that removes their engine. So: Debian 12 only, and no
Docker engine that the stack did not install, unless DOCKER_HOST says to use that engine.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

OS_RELEASE = Path("/etc/os-release")
PROC = Path("/proc")
# Docker's own packages (docker.com's apt repository) and Docker Desktop for Linux.
FOREIGN_DOCKER_PACKAGES = (
    "docker-ce",
    "docker-ce-cli",
    "docker-ce-rootless-extras",
    "containerd.io",
    "docker-desktop",
)
# Processes of an engine: dockerd itself, or Docker Desktop's backend.
ENGINE_PROCESSES = ("dockerd", "com.docker.backend")
USE_YOUR_ENGINE = (
    "use it instead: DOCKER_HOST=unix:///var/run/docker.sock invoke stack.up "
    "(the stack then installs no engine)"
)
ELSEWHERE = "nothing was changed: run it on Debian 12 (a virtual machine or container will do)"


@dataclass(frozen=True)
class MachineFacts:
    """What stack.up reads of the machine before it changes anything."""

    os_release: Mapping[str, str]
    # Installed packages of FOREIGN_DOCKER_PACKAGES, name -> version.
    foreign_packages: Mapping[str, str]
    # Engine processes running that the stack did not start: (pid, name).
    foreign_engines: tuple[tuple[int, str], ...]
    docker_host: str


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5): KEY=value lines, values shell-quoted."""
    fields = {}
    for line in text.splitlines():
        key, equals, value = line.strip().partition("=")
        if not equals or key.startswith("#"):
            continue
        try:
            words = shlex.split(value)
        except ValueError:
            continue
        fields[key] = words[0] if words else ""
    return fields


def refusal(facts: MachineFacts) -> tuple[str, str] | None:
    """The one problem that forbids stack.up on this machine, with its fix; None: go ahead."""
    release = facts.os_release
    name = release.get("PRETTY_NAME") or release.get("NAME") or "an unknown system"
    if release.get("ID") != "debian" or release.get("VERSION_ID") != "12":
        return (
            f"stack.up installs its parts with apt on Debian 12 only, and this is {name}",
            ELSEWHERE,
        )
    if facts.docker_host:
        # The user's engine is used as it is: no engine package is installed.
        return None
    found = [f"{package} {version}" for package, version in facts.foreign_packages.items()]
    found += [f"{process} (pid {pid})" for pid, process in facts.foreign_engines]
    if found:
        return (
            f"a Docker engine that stack.up did not install is here ({', '.join(found)}), and "
            "stack.up's engine packages would replace it",
            USE_YOUR_ENGINE,
        )
    return None


def running_processes(proc: Path = PROC) -> Iterable[tuple[int, str]]:
    """(pid, name) of each live process; a zombie (an engine stopped, not yet reaped) is not."""
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                yield int(entry.name), (entry / "comm").read_text().strip()
        except (OSError, IndexError):
            continue


def executable(pid: int, proc: Path = PROC) -> str:
    try:
        return str((proc / str(pid) / "exe").readlink())
    except OSError:
        return ""


def read_facts(own_engine_pid: int | None, engine_installed_by_stack: bool) -> MachineFacts:
    """The machine's facts; an engine process is the stack's own when it started it (its PID
    file), or when the stack installed the engine package that this dockerd runs from."""
    from devstack.packages import installed_version

    try:
        os_release = parse_os_release(OS_RELEASE.read_text())
    except OSError:
        os_release = {}
    foreign_packages = {
        package: version
        for package in FOREIGN_DOCKER_PACKAGES
        if (version := installed_version(package)) is not None
    }
    foreign_engines = tuple(
        (pid, name)
        for pid, name in running_processes()
        if name in ENGINE_PROCESSES
        and pid != own_engine_pid
        and not (engine_installed_by_stack and executable(pid) == "/usr/sbin/dockerd")
    )
    return MachineFacts(
        os_release, foreign_packages, foreign_engines, os.environ.get("DOCKER_HOST", "")
    )
