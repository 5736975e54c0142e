"""Registries on loopback: the release target of tests and rehearsals, and the engine's mirror."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from devstack import services
from devstack.paths import StackPaths
from release.errors import ReleaseError

REGISTRY_BINARY = "/usr/bin/docker-registry"


@dataclass(frozen=True)
class Registry:
    name: str
    address: str  # host:port on loopback

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def has_manifest(self, repository: str, reference: str) -> bool:
        request = urllib.request.Request(
            f"http://{self.address}/v2/{repository}/manifests/{reference}",
            method="HEAD",
            headers={"Accept": "application/vnd.oci.image.index.v1+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False


TARGET = Registry("registry", "127.0.0.1:5000")
MIRROR = Registry("mirror", "127.0.0.1:5001")


def config_text(registry: Registry, storage: str) -> str:
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {storage}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {registry.address}\n"
    )


def ensure_registry(registry: Registry, paths: StackPaths) -> int:
    storage = paths.registries / registry.name
    storage.mkdir(parents=True, exist_ok=True)
    config = paths.registries / f"{registry.name}.yml"
    config.write_text(config_text(registry, str(storage)))
    service = services.Service(
        name=registry.name,
        argv=[REGISTRY_BINARY, "serve", str(config)],
        ready=registry.answers,
    )
    if services.read_pid(paths.pidfile(registry.name)) is None and registry.answers():
        raise ReleaseError(
            f"something the stack did not start already serves {registry.address}",
            "stop it (Debian's own: systemctl stop docker-registry) and run stack.up again",
        )
    return services.start(service, paths, timeout=30)
