"""The image registry: the one adapter the release reads and writes it through.

What a reference points at, what its image configs say, the multi-arch index (planned and
pushed), retagging: over the registry's HTTP API (distribution v2) with release.oci's client,
its transport (auth handshake, timeouts, redirects that keep credentials home); no docker
process, nothing pulled. `docker login` stays here too (cosign and buildx read docker's
credentials; the password goes on stdin, never in argv), and what buildx's own words about a
registry mean (classify).

release.oci and python-on-whales are imported by the functions that use them: importing this
module (every step that names a registry reference does) costs nothing at start-up.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from release import processes
from release.config import ReleaseConfig
from release.errors import ReleaseError

if TYPE_CHECKING:
    from release.oci import Manifest, Reference, RegistryClient


def registry_host(image: str) -> str:
    """`ghcr.io/o/barycenter` -> `ghcr.io`; Docker Hub names have no host part."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def is_loopback(host: str) -> bool:
    """Registries on loopback speak plain HTTP (docker allows 127.0.0.0/8 without TLS)."""
    return host.startswith(("127.", "localhost", "[::1]"))


DEFAULT_TIMEOUT = 120  # seconds; registry-timeout in the configuration


Answer = Literal["absent", "unauthorized", "down", "failed"]

# What buildx (a build pulling its base images) prints for the registry's HTTP answers and for
# a registry that does not answer.
ANSWERS: tuple[tuple[Answer, tuple[str, ...]], ...] = (
    (
        "unauthorized",
        (
            "401 unauthorized",
            "403 forbidden",
            "authentication required",
            "no basic auth credentials",
            "denied: ",
            "unauthorized: ",
        ),
    ),
    ("absent", ("404 not found", ": not found", "manifest unknown", "name unknown")),
    (
        "down",
        (
            "connection refused",
            "no such host",
            "i/o timeout",
            "connection reset",
            "server misbehaving",
            "eof",
            "tls handshake timeout",
        ),
    ),
)


def classify(reference: str, stderr: str) -> Answer:
    """What the registry's answer to a failed read or push of `reference` means: the one place
    this is decided. The reference is left out of the matching: "measure-f95401" is no 401."""
    lowered = stderr.replace(reference, "<reference>").lower()
    for answer, markers in ANSWERS:
        if any(marker in lowered for marker in markers):
            return answer
    return "failed"


def client_for(reference: str, timeout: float) -> tuple[RegistryClient, Reference]:
    """The registry's HTTP client for `reference`, with the login this process made to its host
    (registry.login), else docker's stored one."""
    from release.oci import Reference, RegistryClient

    parsed = Reference.parse(reference)
    client = RegistryClient.for_reference(parsed, timeout=timeout)
    if parsed.host in LOGINS:
        client.credentials = LOGINS[parsed.host]
    return client, parsed


def read_manifest(
    reference: str, login_hint: str = "docker login", timeout: float = DEFAULT_TIMEOUT
) -> Manifest | None:
    """The manifest or index `reference` names, None when the registry has none; a refusal is
    reported naming the reference and how to log in."""
    from release.oci import RegistryRefusedError

    client, parsed = client_for(reference, timeout)
    try:
        return client.manifest(parsed.repository, parsed.tag)
    except RegistryRefusedError:
        raise ReleaseError(
            f"the registry {parsed.host} refused access to {reference} (unauthorized)", login_hint
        ) from None


def manifest(
    reference: str, login_hint: str = "docker login", timeout: float = DEFAULT_TIMEOUT
) -> dict[str, Any] | None:
    """The manifest or index `reference` names (with its own digest and size, as
    `docker buildx imagetools inspect` shows it), or None when absent. One HTTP request: no
    docker, no image pulled."""
    found = read_manifest(reference, login_hint, timeout)
    if found is None:
        return None
    document = found.json
    return {
        "schemaVersion": document.get("schemaVersion"),
        "mediaType": document.get("mediaType") or found.media_type,
        "digest": found.digest,
        "size": len(found.data),
        **{
            key: value
            for key, value in document.items()
            if key not in ("schemaVersion", "mediaType")
        },
    }


@dataclass(frozen=True)
class ImageConfig:
    platform: str
    labels: dict[str, str]


def image_configs(reference: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, ImageConfig]:
    """Platform -> image config, for an index (each child, attestations left out) or a single
    image (keyed by the platform its config names)."""
    from release.oci import Source, is_attestation, platform_of

    client, parsed = client_for(reference, timeout)
    top = read_manifest(reference, timeout=timeout)
    if top is None:
        raise ReleaseError(f"{reference} is not in the registry", "build and push it first")
    source = Source.of_registry(client, parsed.repository)
    images = (
        [
            (platform_of(child), source.manifest(child))
            for child in top.json.get("manifests", [])
            if not is_attestation(child)
        ]
        if top.is_index
        else [("", top)]
    )
    found = {}
    for slot, image in images:
        config = json.loads(source.blob(image.json["config"]["digest"]))
        platform = f"{config.get('os')}/{config.get('architecture')}"
        if config.get("variant"):
            platform += f"/{config['variant']}"
        labels = (config.get("config") or {}).get("Labels") or {}
        found[slot or platform] = ImageConfig(platform, dict(labels))
    return found


def create_index(tags: list[str], sources: list[str], timeout: float = DEFAULT_TIMEOUT) -> None:
    """Push the index of `sources` (planned_index's children) under each tag, the first (the
    version) first, over the registry's HTTP API. A source in another repository than a tag has
    its manifests and blobs copied there first (a registry's index names only its own)."""
    from release.oci import INDEX_TYPES, Manifest, RegistryRefusedError, Source

    index = planned_index(sources, timeout)
    pushed = Manifest(json.dumps(index, indent=2).encode(), INDEX_TYPES[0])
    for tag in tags:
        client, target = client_for(tag, timeout)
        try:
            for source in sources:
                origin, parsed = client_for(source, timeout)
                if (parsed.host, parsed.repository) == (target.host, target.repository):
                    continue
                read = Source.of_registry(origin, parsed.repository)
                for child in index["manifests"]:
                    manifest = read.manifest(child)
                    for blob in [manifest.json.get("config"), *manifest.json.get("layers", [])]:
                        if blob and not client.has_blob(target.repository, blob["digest"]):
                            data = read.blob(blob["digest"])
                            client.put_blob(target.repository, blob["digest"], data)
                    client.put_manifest(target.repository, manifest.digest, manifest)
            client.put_manifest(target.repository, target.tag, pushed)
        except RegistryRefusedError:
            raise ReleaseError(
                f"the registry {target.host} refused access to {tag} (unauthorized)",
                "docker login",
            ) from None


def retag(tag: str, source: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Point `tag` at the very manifest `source` names (the same bytes, so the same digest)."""
    from release.oci import RegistryRefusedError

    found = read_manifest(source, timeout=timeout)
    if found is None:
        raise ReleaseError(f"{source} is not in the registry", "build and push it first")
    client, target = client_for(tag, timeout)
    try:
        client.put_manifest(target.repository, target.tag, found)
    except RegistryRefusedError:
        raise ReleaseError(
            f"the registry {target.host} refused access to {tag} (unauthorized)", "docker login"
        ) from None


def planned_index(sources: list[str], timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """The children of the index `create_index` would push from `sources`, read from the
    registry without pushing: each source index's children, or the source image itself with
    the platform its config names (as `docker buildx imagetools create` merges them)."""
    from release.oci import Source

    children: list[dict[str, Any]] = []
    for reference in sources:
        client, parsed = client_for(reference, timeout)
        top = read_manifest(reference, timeout=timeout)
        if top is None:
            raise ReleaseError(f"{reference} is not in the registry", "build and push it first")
        if top.is_index:
            found = top.json.get("manifests", [])
        else:
            config = json.loads(
                Source.of_registry(client, parsed.repository).blob(top.json["config"]["digest"])
            )
            platform = {"architecture": config.get("architecture"), "os": config.get("os")}
            if config.get("variant"):
                platform["variant"] = config["variant"]
            found = [
                {
                    "mediaType": top.media_type,
                    "digest": top.digest,
                    "size": len(top.data),
                    "platform": platform,
                }
            ]
        children += [child for child in found if child not in children]
    return {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": children,
    }


# host -> (user, password) of the logins this process made: the HTTP reads use them too.
LOGINS: dict[str, tuple[str, str]] = {}


def login(host: str, username: str, password_variable: str) -> bool:
    """docker login with the password from an environment variable, passed on stdin.

    Returns False when the variable is unset: an existing credential helper or an earlier
    login may still hold credentials, and the registry will say if it does not.
    """
    from python_on_whales import docker

    password = os.environ.get(password_variable, "")
    if not password:
        return False
    username = username or "oauth2"
    # On stdin, output captured: docker's "Login Succeeded" and its warnings stay out.
    command = [*docker.docker_cmd, "login", "--password-stdin", "--username", username, host]
    try:
        result = processes.run(
            command, stdin=password.encode(), secrets=[password], timeout=DEFAULT_TIMEOUT
        )
    except processes.ProcessTimeoutError:
        raise ReleaseError(
            f"the registry {host} did not answer docker login within {DEFAULT_TIMEOUT} s",
            "check that it runs, then run the same command again",
        ) from None
    if not result.ok:
        # docker's output could echo what it was given; say only what failed.
        raise ReleaseError(
            f"docker login to {host} as {username} was refused",
            f"check the token in ${password_variable} and its package write permission",
        )
    LOGINS[host] = (username, password)
    return True


def login_for(image: str, config: ReleaseConfig) -> bool:
    """Log in to the image's registry when the configured password variable is set."""
    return login(registry_host(image), config.registry_username, config.registry_password_env)


def login_hint(config: ReleaseConfig) -> str:
    return (
        f"set ${config.registry_password_env} (and registry-username) for docker login, "
        "or log in yourself: docker login --password-stdin"
    )
