"""The image registry, through the docker CLI: what a reference points at, what its image
configs say, multi-arch indexes, and login. Credentials go to docker on stdin, never in argv.

python-on-whales is imported by the functions that call docker: importing this module (every
step that names a registry reference does) costs nothing at start-up.
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


def imagetools(reference: str, *args: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """`docker buildx imagetools ARGS` about `reference`, stopped when the registry leaves it
    unanswered for `timeout` s: buildx has no timeout of its own, and a registry that hangs
    would hang the release. Failures are DockerException, as python-on-whales raises them."""
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    command = [str(part) for part in [*docker.buildx.docker_cmd, "buildx", "imagetools", *args]]
    # A session of its own: docker runs buildx as a child that holds our pipes, so the whole
    # group is stopped, never docker alone (a buildx left waiting on the registry would keep
    # the pipes open and the release waiting with it).
    try:
        result = processes.run(command, timeout=timeout, own_group=True)
    except processes.ProcessTimeoutError:
        raise ReleaseError(
            f"the registry {registry_host(reference)} did not answer `docker buildx "
            f"imagetools {args[0]}` for {reference} within {timeout:g} s",
            "check that it runs (or raise registry-timeout), then run the same command again",
        ) from None
    if not result.ok:
        raise DockerException(command, result.returncode, result.stdout, result.stderr)
    return result.out.strip()


def imagetools_for(reference: str, *args: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """imagetools, its failures turned into the project's errors (absent counts as failure)."""
    from python_on_whales.exceptions import DockerException

    try:
        return imagetools(reference, *args, timeout=timeout)
    except DockerException as error:
        stderr = str(error.stderr or "")
        pushing = args[0] == "create" and "--dry-run" not in args
        raise failure(reference, stderr, "docker login", pushing) or ReleaseError(
            f"{reference} is not in the registry", "build and push it first"
        ) from None


Answer = Literal["absent", "unauthorized", "down", "failed"]

# What buildx prints for the registry's HTTP answers and for a registry that does not answer.
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


def failure(
    reference: str, stderr: str, login_hint: str, pushing: bool = False
) -> ReleaseError | None:
    """None when `reference` is simply absent, else the one-line error to report."""
    answer = classify(reference, stderr)
    host = registry_host(reference)
    if answer == "absent":
        return None
    if answer == "unauthorized":
        return ReleaseError(
            f"the registry {host} refused access to {reference} (unauthorized)", login_hint
        )
    if answer == "down":
        return ReleaseError(
            f"the registry {host} does not answer ({last_words(stderr, reference)})",
            "check the registry address and that it runs, then run the same command again",
        )
    doing = f"push {reference} to" if pushing else f"read {reference} from"
    return ReleaseError(
        f"cannot {doing} the registry ({last_words(stderr, reference)})",
        "check the registry address, that it runs, and your login (docker login)",
    )


def last_words(stderr: str, reference: str) -> str:
    text = stderr.replace(reference, "<reference>")
    return next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "no answer")


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
    """Push the index of `sources` under each tag, the first (the version) first.

    One tag per call: concurrent pushes of one manifest to a repository were seen to make the
    distribution registry answer 500.
    """
    for tag in tags:
        imagetools_for(tag, "create", "--tag", tag, *sources, timeout=timeout)


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
