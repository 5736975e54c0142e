"""Where the stack keeps its state, logs and caches: outside the checkout, so clones share it.

Two paths, chosen here and only here (`choose`): root on a fresh Debian 12 installs and runs
the whole stack, its state in /var/lib; anyone else is a maintainer whose Docker engine already
runs: nothing is installed, nothing is started but a registry container, and the state lives in
the user's cache directory (XDG).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STATE_DIR = Path("/var/lib/barycenter-stack")


@dataclass(frozen=True)
class StackPaths:
    root: Path
    # The user path: use the engine that runs, install nothing, write nothing outside `root`.
    user: bool = False

    @classmethod
    def from_environment(cls) -> StackPaths:
        geteuid = getattr(os, "geteuid", None)
        return choose(os.environ, geteuid() if geteuid else -1, Path.home())

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def apt(self) -> Path:
        return self.root / "apt"

    @property
    def rootfs_cache(self) -> Path:
        return self.root / "rootfs"

    @property
    def registries(self) -> Path:
        return self.root / "registries"

    @property
    def daemon_config(self) -> Path:
        return self.root / "daemon.json"

    def pidfile(self, service: str) -> Path:
        return self.run / f"{service}.pid"

    def logfile(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def ensure(self) -> None:
        for directory in (
            self.logs,
            self.run,
            self.bin,
            self.apt,
            self.rootfs_cache,
            self.registries,
        ):
            directory.mkdir(parents=True, exist_ok=True)


def choose(environ: Mapping[str, str], euid: int, home: Path) -> StackPaths:
    """Root: the system path in /var/lib (or $BARYCENTER_STACK_DIR). Anyone else: the user path,
    in $BARYCENTER_STACK_DIR, else $XDG_CACHE_HOME/barycenter-stack, else ~/.cache/...; an
    XDG_CACHE_HOME that is not absolute is ignored, as the XDG specification says."""
    named = environ.get("BARYCENTER_STACK_DIR", "")
    if euid == 0:
        return StackPaths(Path(named) if named else DEFAULT_STATE_DIR)
    if named:
        return StackPaths(Path(named), user=True)
    cache = environ.get("XDG_CACHE_HOME", "")
    base = Path(cache) if cache and Path(cache).is_absolute() else home / ".cache"
    return StackPaths(base / "barycenter-stack", user=True)
