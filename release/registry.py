"""The image registry, through the docker CLI: what a reference points at, what its image
configs say, multi-arch indexes, and login. Credentials go to docker on stdin, never in argv.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from python_on_whales import docker
from python_on_whales.exceptions import DockerException
from python_on_whales.utils import run

from release.config import ReleaseConfig
from release.errors import ReleaseError

LOOPBACK = ("127.", "localhost", "[::1]")


def registry_host(image: str) -> str:
    """`ghcr.io/o/barycenter` -> `ghcr.io`; Docker Hub names have no host part."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def is_loopback(host: str) -> bool:
    return host.startswith(LOOPBACK)


def imagetools(*args: str) -> str:
    return str(run([*docker.buildx.docker_cmd, "buildx", "imagetools", *args]))


UNAUTHORIZED = ("unauthorized", "authentication required", "no basic auth credentials", "denied")


def read_failure(reference: str, stderr: str) -> ReleaseError | None:
    """What a failed `imagetools inspect` means: None when the reference is simply absent,
    else the error to report (unauthorized, or anything else in docker's last words)."""
    # The reference itself is left out of the matching: "measure-f95401" is no HTTP 401.
    text = stderr.replace(reference, "<reference>")
    lowered = text.lower()
    if any(marker in lowered for marker in UNAUTHORIZED):
        return ReleaseError(
            f"the registry {registry_host(reference)} refused access to {reference} (unauthorized)",
            "",
        )
    if "not found" in lowered or "404" in lowered or "manifest unknown" in lowered:
        return None
    last = next((line for line in reversed(text.splitlines()) if line.strip()), "no answer")
    return ReleaseError(
        f"cannot read {reference} from the registry ({last.strip()})",
        "check the registry address, that it runs, and your login (docker login)",
    )


def manifest(reference: str, login_hint: str = "docker login") -> dict[str, Any] | None:
    """The manifest or index `reference` names (with its own digest), or None when absent."""
    try:
        output = imagetools("inspect", reference, "--format", "{{json .Manifest}}")
    except DockerException as error:
        failure = read_failure(reference, str(error.stderr or ""))
        if failure is None:
            return None
        if not failure.fix:
            failure = ReleaseError(failure.problem, login_hint)
        raise failure from None
    data: dict[str, Any] = json.loads(output)
    return data


@dataclass(frozen=True)
class ImageConfig:
    platform: str
    labels: dict[str, str]


def image_configs(reference: str) -> dict[str, ImageConfig]:
    """Platform -> image config, for an index (each child) or a single image."""
    output = imagetools("inspect", reference, "--format", "{{json .Image}}")
    data = json.loads(output)
    configs = data if "architecture" not in data else {"": data}
    found = {}
    for slot, config in configs.items():
        platform = f"{config.get('os')}/{config.get('architecture')}"
        if config.get("variant"):
            platform += f"/{config['variant']}"
        labels = (config.get("config") or {}).get("Labels") or {}
        found[slot or platform] = ImageConfig(platform, dict(labels))
    return found


def create_index(tags: list[str], sources: list[str]) -> None:
    """Push the index of `sources` under each tag, the first (the version) first.

    One tag per call: concurrent pushes of one manifest to a repository were seen to make the
    distribution registry answer 500.
    """
    for tag in tags:
        imagetools("create", "--tag", tag, *sources)


def planned_index(sources: list[str]) -> dict[str, Any]:
    """The index `create` would push, computed without pushing (imagetools --dry-run)."""
    data: dict[str, Any] = json.loads(imagetools("create", "--dry-run", *sources))
    return data


def login(host: str, username: str, password_variable: str) -> bool:
    """docker login with the password from an environment variable, passed on stdin.

    Returns False when the variable is unset: an existing credential helper or an earlier
    login may still hold credentials, and the registry will say if it does not.
    """
    password = os.environ.get(password_variable, "")
    if not password:
        return False
    try:
        docker.login(server=host, username=username or "oauth2", password=password)
    except DockerException:
        # The exception would carry docker's output; say only what failed, never the secret.
        raise ReleaseError(
            f"docker login to {host} as {username or 'oauth2'} was refused",
            f"check the token in ${password_variable} and its package write permission",
        ) from None
    return True


def login_for(image: str, config: ReleaseConfig) -> bool:
    """Log in to the image's registry when the configured password variable is set."""
    return login(registry_host(image), config.registry_username, config.registry_password_env)


def login_hint(config: ReleaseConfig) -> str:
    return (
        f"set ${config.registry_password_env} (and registry-username) for docker login, "
        "or log in yourself: docker login --password-stdin"
    )
