"""Base images pinned by digest: the Dockerfile names them in global `ARG <NAME>_IMAGE=<ref>`
lines; the build resolves each to `<ref>@sha256:...` and passes it as that build argument.

The pins are recorded where every consumer finds them: BuildKit's provenance attached to each
platform's image (its build arguments) and the image's labels (the Dockerfile copies the two
arguments into them). A rebuild reads them back, so it starts from the same bytes.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

from release.errors import ReleaseError
from release.oci import Reference, RegistryClient
from release.registry import DEFAULT_TIMEOUT

BASE_ARGUMENT = re.compile(r"^ARG\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*_IMAGE)=(?P<value>\S+)\s*$")


def base_image_arguments(dockerfile: str) -> dict[str, str]:
    """`NAME_IMAGE` -> its default, for each global ARG before the first FROM."""
    found: dict[str, str] = {}
    for line in dockerfile.splitlines():
        stripped = line.strip()
        if stripped.upper().startswith("FROM "):
            break
        if match := BASE_ARGUMENT.match(stripped):
            found[match["name"]] = match["value"].strip("\"'")
    return found


def engine_mirrors() -> list[str]:
    """The registry mirrors the engine pulls Docker Hub images through, in its order."""
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    try:
        config: Any = docker.system.info().registry_config
    except DockerException:
        return []
    mirrors = (config or {}).get("Mirrors") if isinstance(config, dict) else None
    return [str(m).split("://", 1)[-1].rstrip("/") for m in mirrors or []]


def resolve(reference: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """`reference@sha256:...`, the digest the build would pull now: a Docker Hub name through
    the engine's mirrors first, as the engine itself pulls it."""
    if "@sha256:" in reference:
        return reference
    parsed = Reference.parse(reference)
    hosts = [*engine_mirrors(), "docker.io"] if parsed.host == "docker.io" else [parsed.host]
    answers = []
    for host in hosts:
        try:
            found = RegistryClient.for_reference(
                Reference(host, parsed.repository, parsed.tag), timeout=timeout
            )
            manifest = found.manifest(parsed.repository, parsed.tag)
        except ReleaseError as error:
            answers.append(f"{host}: {error.problem}")
            continue
        if manifest is not None:
            return f"{reference}@{manifest.digest}"
        answers.append(f"{host}: not found")
    raise ReleaseError(
        f"cannot pin the base image {reference} to a digest ({'; '.join(answers)})",
        "check that the registry answers and holds it, or pin it in the Dockerfile (@sha256:...)",
    )


def pin_base_images(dockerfile: Path, timeout: float = DEFAULT_TIMEOUT) -> dict[str, str]:
    """Each base image argument with its default resolved to a digest now."""
    arguments = base_image_arguments(dockerfile.read_text())
    return {name: resolve(value, timeout) for name, value in arguments.items()}


def recorded_pins(provenance: dict[str, Any] | None) -> dict[str, str]:
    """The pinned base image arguments a build used, from its provenance."""
    parameters = ((provenance or {}).get("invocation") or {}).get("parameters") or {}
    return {
        key.removeprefix("build-arg:"): str(value)
        for key, value in (parameters.get("args") or {}).items()
        if key.startswith("build-arg:") and key.endswith("_IMAGE") and "@sha256:" in str(value)
    }


def materials(provenance: dict[str, Any] | None) -> dict[str, str]:
    """Base image -> digest, from the provenance's materials (`pkg:docker/...` entries)."""
    found: dict[str, str] = {}
    for material in (provenance or {}).get("materials") or []:
        uri = str(material.get("uri", ""))
        if not uri.startswith("pkg:docker/"):
            continue
        name = urllib.parse.unquote(uri.removeprefix("pkg:docker/").split("?", 1)[0])
        path, _, version = name.rpartition("@")
        reference = f"{path}:{version}" if version and not version.startswith("sha256") else path
        digest = (material.get("digest") or {}).get("sha256")
        if digest:
            found[reference] = f"sha256:{digest}"
    return found
