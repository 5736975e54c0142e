"""Where the stack keeps its state, logs and caches: outside the checkout, so clones share it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STATE_DIR = Path("/var/lib/barycenter-stack")


@dataclass(frozen=True)
class StackPaths:
    root: Path

    @classmethod
    def from_environment(cls) -> StackPaths:
        return cls(Path(os.environ.get("BARYCENTER_STACK_DIR", str(DEFAULT_STATE_DIR))))

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
