"""OCI image layouts and the registry's HTTP API (distribution v2), byte for byte.

The build writes each platform's image as an OCI layout (the docker driver of Docker 26 cannot
push with rewrite-timestamp: its image exporter always unpacks into the engine), and this module
pushes that layout unchanged; release.reproduce reads manifests, configs and layers with it.
Loopback registries speak plain HTTP; others HTTPS, with the registry's token handshake
(anonymous, or with the user and password the release logs in with, or docker's config).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from release.dist import sha256_of
from release.errors import ReleaseError
from release.registry import DEFAULT_TIMEOUT, is_loopback, registry_host

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join((*INDEX_TYPES, *MANIFEST_TYPES))
ATTESTATION = "attestation-manifest"


def digest_of(data: bytes) -> str:
    return "sha256:" + sha256_of(data)


@dataclass(frozen=True)
class Reference:
    host: str
    repository: str
    # A tag or a digest.
    tag: str

    @classmethod
    def parse(cls, reference: str) -> Reference:
        """`127.0.0.1:5000/o/b:v1` or `rust:1-bookworm` (Docker Hub, library/ implied)."""
        host = registry_host(reference)
        rest = reference.split("/", 1)[1] if reference.startswith(host + "/") else reference
        if "@" in rest:
            name, tag = rest.split("@", 1)
            name = name.split(":", 1)[0]
        elif ":" in rest.rsplit("/", 1)[-1]:
            name, tag = rest.rsplit(":", 1)
        else:
            name, tag = rest, "latest"
        if host == "docker.io" and "/" not in name:
            name = f"library/{name}"
        return cls(host, name, tag)

    def __str__(self) -> str:
        separator = "@" if self.tag.startswith("sha256:") else ":"
        return f"{self.host}/{self.repository}{separator}{self.tag}"


@dataclass(frozen=True)
class Manifest:
    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    @property
    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.data)
        return document

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or "manifests" in self.json


def platform_of(descriptor: dict[str, Any]) -> str:
    platform = descriptor.get("platform") or {}
    name = f"{platform.get('os')}/{platform.get('architecture')}"
    return name + (f"/{platform['variant']}" if platform.get("variant") else "")


def is_attestation(descriptor: dict[str, Any]) -> bool:
    annotations = descriptor.get("annotations") or {}
    return annotations.get("vnd.docker.reference.type") == ATTESTATION


def child_digests(index: dict[str, Any]) -> set[str]:
    """The digests an index (as release.registry.manifest reads it) names, attestations too."""
    return {str(m["digest"]) for m in index.get("manifests") or []}


def index_platforms(index: dict[str, Any]) -> list[str]:
    """The platforms of an index's images, sorted; buildx's attestation manifests are none."""
    found = []
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        if platform.get("os") == "unknown":
            continue  # attestation manifests
        name = f"{platform.get('os')}/{platform.get('architecture')}"
        found.append(name + (f"/{platform['variant']}" if platform.get("variant") else ""))
    return sorted(found)


def docker_credentials(host: str) -> tuple[str, str] | None:
    """The user and password `docker login` stored in plain config (no credential helper)."""
    config = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json"
    try:
        auths = json.loads(config.read_text()).get("auths", {})
    except (OSError, ValueError):
        return None
    keys = ["https://index.docker.io/v1/"] if host == "docker.io" else [host, f"https://{host}"]
    for key in keys:
        encoded = (auths.get(key) or {}).get("auth")
        if encoded:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
            return user, password
    return None


def origin_of(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class CredentialsStayHome(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but only to the same origin with the Authorization header: urllib
    keeps it on every redirect, and registries send blob reads to their storage host (S3, a
    CDN), which must never see the registry password or token."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        redirected = super().redirect_request(req, fp, code, msg, headers, newurl)
        if redirected is not None and origin_of(redirected.full_url) != origin_of(req.full_url):
            redirected.remove_header("Authorization")
        return redirected


OPENER = urllib.request.build_opener(CredentialsStayHome)


class RegistryRefusedError(ReleaseError):
    """The registry answered 401 or 403: a login is missing or wrong (release.registry names
    the reference and the configured login in its own message)."""


@dataclass
class RegistryClient:
    """One registry host: GET and PUT of manifests and blobs, with its auth handshake."""

    host: str
    credentials: tuple[str, str] | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    # Seconds one socket operation may wait for the registry (registry-timeout).
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def for_reference(
        cls,
        reference: Reference,
        password_env: str = "",
        username: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> RegistryClient:
        credentials = docker_credentials(reference.host)
        if password_env and os.environ.get(password_env):
            credentials = (username or "oauth2", os.environ[password_env])
        return cls(reference.host, credentials, timeout=timeout)

    @property
    def base(self) -> str:
        host = "registry-1.docker.io" if self.host == "docker.io" else self.host
        return f"{'http' if is_loopback(host) else 'https'}://{host}/v2/"

    def request(
        self,
        method: str,
        repository: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        url: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        target = url or f"{self.base}{repository}/{path}"
        if not target.startswith(("http://", "https://")):
            raise ReleaseError(f"the registry {self.host} pointed at {target}, not HTTP(S)")
        actions = {
            "POST": "pull,push",
            "PUT": "pull,push",
            "PATCH": "pull,push",
            "DELETE": "delete",
        }
        scope = f"repository:{repository}:{actions.get(method, 'pull')}"
        for attempt in range(2):
            sent = dict(headers or {})
            if scope in self.tokens:
                sent["Authorization"] = self.tokens[scope]
            call = urllib.request.Request(target, data=data, method=method, headers=sent)  # noqa: S310 - http(s) only, checked
            try:
                with OPENER.open(call, timeout=self.timeout) as answer:
                    return answer.status, dict(answer.headers.items()), answer.read()
            except urllib.error.HTTPError as error:
                challenge = error.headers.get("WWW-Authenticate", "")
                if error.code == 401 and attempt == 0 and challenge:
                    self.tokens[scope] = self.authorize(challenge, scope)
                    continue
                try:
                    # An error's body is read after its headers: the registry may stall here too.
                    body = error.read()
                except (OSError, http.client.HTTPException) as broken:
                    raise self.broken(f"{method} {repository}", broken) from None
                return error.code, dict(error.headers.items()), body
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                raise self.broken(f"{method} {repository}", error) from None
        raise AssertionError("unreachable")

    def authorize(self, challenge: str, scope: str) -> str:
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() == "basic":
            if self.credentials is None:
                raise self.refused(scope)
            user, password = self.credentials
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        fields = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        query = {"scope": scope, **({"service": fields["service"]} if "service" in fields else {})}
        url = f"{fields.get('realm', '')}?{urllib.parse.urlencode(query)}"
        if not url.startswith(("http://", "https://")):
            raise self.refused(scope)
        realm_host = urllib.parse.urlsplit(url).hostname or ""
        if url.startswith("http://") and not is_loopback(realm_host):
            # The password would cross the network in clear text.
            raise ReleaseError(
                f"the registry {self.host} asks for its token at {realm_host} over plain HTTP",
                "use the registry's HTTPS address, or ask its operator to serve tokens on HTTPS",
            )
        headers = {}
        if self.credentials is not None:
            user, password = self.credentials
            encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {encoded}"
        what = f"a token for {scope}"
        try:
            token_request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s)
            with OPENER.open(token_request, timeout=self.timeout) as answer:
                token = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                raise self.refused(scope) from None
            raise ReleaseError(
                f"the token server of {self.host} answered {error.code} to {what}",
                "run the same command again later",
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise self.broken(what, error) from None
        except ValueError:
            raise ReleaseError(
                f"the token server of {self.host} answered {what} with no JSON",
                "check the registry address",
            ) from None
        if not isinstance(token, dict) or not (token.get("token") or token.get("access_token")):
            raise self.refused(scope)
        return f"Bearer {token.get('token') or token.get('access_token')}"

    def broken(self, what: str, error: BaseException) -> ReleaseError:
        """A request that got no complete answer: no answer in time, or a broken connection."""
        if isinstance(error, TimeoutError) or isinstance(
            getattr(error, "reason", None), TimeoutError
        ):
            return self.unanswered(what)
        return ReleaseError(
            f"the registry {self.host} does not answer ({error})",
            "check the registry address and that it runs, then run the same command again",
        )

    def unanswered(self, what: str) -> ReleaseError:
        return ReleaseError(
            f"the registry {self.host} did not answer {what} within {self.timeout:g} s",
            "check that it runs (or raise registry-timeout), then run the same command again",
        )

    def refused(self, scope: str) -> ReleaseError:
        return RegistryRefusedError(
            f"the registry {self.host} refused access ({scope}, unauthorized)",
            "log in: docker login, or set the registry password variable",
        )

    def check(self, status: int, body: bytes, what: str, scope: str) -> None:
        if status in (401, 403):
            raise self.refused(scope)
        if status >= 300:
            detail = body.decode(errors="replace").strip()[:200]
            raise ReleaseError(f"the registry {self.host} answered {status} to {what}: {detail}")

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """A manifest or index by tag or digest, None when the registry has none."""
        status, headers, body = self.request(
            "GET", repository, f"manifests/{reference}", headers={"Accept": ACCEPT}
        )
        if status == 404:
            return None
        self.check(status, body, f"GET {repository}:{reference}", repository)
        media_type = headers.get("Content-Type", "").split(";")[0]
        return Manifest(body, media_type)

    def blob(self, repository: str, digest: str) -> bytes:
        status, _, body = self.request("GET", repository, f"blobs/{digest}")
        self.check(status, body, f"GET blob {digest}", repository)
        if digest_of(body) != digest:
            raise ReleaseError(f"the registry {self.host} sent a blob that is not {digest}")
        return body

    def has_blob(self, repository: str, digest: str) -> bool:
        status, _, body = self.request("HEAD", repository, f"blobs/{digest}")
        if status == 404:
            return False
        self.check(status, body, f"HEAD blob {digest}", repository)
        return True

    def put_blob(self, repository: str, digest: str, data: bytes) -> None:
        if self.has_blob(repository, digest):
            return
        status, headers, body = self.request("POST", repository, "blobs/uploads/", data=b"")
        self.check(status, body, "starting a blob upload", repository)
        location = headers.get("Location", "")
        if location.startswith("/"):
            location = self.base.removesuffix("/v2/") + location
        separator = "&" if "?" in location else "?"
        status, _, body = self.request(
            "PUT",
            repository,
            "",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            url=f"{location}{separator}digest={urllib.parse.quote(digest)}",
        )
        self.check(status, body, f"PUT blob {digest}", repository)

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> None:
        status, _, body = self.request(
            "PUT",
            repository,
            f"manifests/{reference}",
            data=manifest.data,
            headers={"Content-Type": manifest.media_type},
        )
        self.check(status, body, f"PUT {repository}:{reference}", repository)


def unsafe_member(member: tarfile.TarInfo) -> str:
    """Why the "data" filter would refuse this member ("" when it would not), for the Pythons
    that lack it (before 3.11.4: Debian 12's own 3.11.2)."""
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return f"{member.name} is neither a file, a folder nor a link"
    for name in (member.name, member.linkname if member.issym() or member.islnk() else ""):
        if name.startswith("/") or ".." in Path(name).parts:
            return f"{member.name} points outside the folder ({name})"
    return ""


def extract_data(tar: tarfile.TarFile, directory: Path | str) -> None:
    """Unpack `tar` into `directory`, refusing anything that would land outside it: checked
    here on every Python, then by tarfile's own "data" filter where it has one."""
    refused = next((why for member in tar.getmembers() if (why := unsafe_member(member))), "")
    if refused:
        raise ReleaseError(f"refusing to unpack {refused}", "check where the archive came from")
    if hasattr(tarfile, "data_filter"):
        tar.extractall(directory, filter="data")
    else:
        tar.extractall(directory)  # noqa: S202 (every member checked above)


class Layout:
    """An OCI image layout directory (what `--output type=oci` writes, unpacked)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def from_tar(cls, archive: Path, directory: Path) -> Layout:
        with tarfile.open(archive) as tar:
            extract_data(tar, directory)
        return cls(directory)

    def blob(self, digest: str) -> bytes:
        return (self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()

    def manifest(self, descriptor: dict[str, Any]) -> Manifest:
        return Manifest(self.blob(descriptor["digest"]), descriptor["mediaType"])

    @property
    def top(self) -> Manifest:
        """What the build exported: one index (image plus attestation) or one image."""
        index = json.loads((self.root / "index.json").read_text())
        return self.manifest(index["manifests"][0])


@dataclass(frozen=True)
class Image:
    """One platform's image: its manifest, config, and a way to read its layers."""

    manifest: Manifest
    config: dict[str, Any]
    provenance: dict[str, Any] | None

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def layers(self) -> list[str]:
        return [str(layer["digest"]) for layer in self.manifest.json.get("layers", [])]


class Source:
    """Where an image's blobs come from: a layout on disk or a registry repository."""

    def __init__(
        self, blob: Callable[[str], bytes], manifest: Callable[[dict[str, Any]], Manifest]
    ) -> None:
        self.blob, self.manifest = blob, manifest

    @classmethod
    def of_layout(cls, layout: Layout) -> Source:
        return cls(layout.blob, layout.manifest)

    @classmethod
    def of_registry(cls, client: RegistryClient, repository: str) -> Source:
        def manifest(descriptor: dict[str, Any]) -> Manifest:
            found = client.manifest(repository, descriptor["digest"])
            if found is None:
                raise ReleaseError(f"{client.host}/{repository} lacks {descriptor['digest']}")
            return found

        return cls(lambda digest: client.blob(repository, digest), manifest)

    def image(self, top: Manifest, platform: str) -> Image | None:
        """`platform`'s image in `top` (an index, or a single image), with its provenance."""
        if not top.is_index:
            config = json.loads(self.blob(top.json["config"]["digest"]))
            return Image(top, config, None)
        children = top.json.get("manifests", [])
        chosen = next(
            (c for c in children if not is_attestation(c) and platform_of(c) == platform), None
        )
        if chosen is None:
            return None
        manifest = self.manifest(chosen)
        config = json.loads(self.blob(manifest.json["config"]["digest"]))
        attestation = next(
            (
                c
                for c in children
                if is_attestation(c)
                and (c.get("annotations") or {}).get("vnd.docker.reference.digest")
                == chosen["digest"]
            ),
            None,
        )
        return Image(manifest, config, self.provenance(attestation))

    def provenance(self, descriptor: dict[str, Any] | None) -> dict[str, Any] | None:
        """The SLSA provenance predicate BuildKit attached, when it did."""
        if descriptor is None:
            return None
        for layer in self.manifest(descriptor).json.get("layers", []):
            kind = (layer.get("annotations") or {}).get("in-toto.io/predicate-type", "")
            if "slsa.dev/provenance" in kind:
                statement = json.loads(self.blob(layer["digest"]))
                predicate: dict[str, Any] = statement.get("predicate", {})
                return predicate
        return None


def published_image(
    reference: str,
    platform: str,
    password_env: str = "",
    username: str = "",
    timeout: float = DEFAULT_TIMEOUT,
) -> Image | None:
    """`platform`'s image under `reference` in its registry, None when there is none."""
    parsed = Reference.parse(reference)
    client = RegistryClient.for_reference(parsed, password_env, username, timeout)
    top = client.manifest(parsed.repository, parsed.tag)
    if top is None:
        return None
    return Source.of_registry(client, parsed.repository).image(top, platform)


def push_layout(layout: Layout, reference: Reference, client: RegistryClient) -> str:
    """Push the layout's top manifest (and everything it names) as `reference`; its digest."""
    top = layout.top

    def push(manifest: Manifest) -> None:
        document = manifest.json
        for child in document.get("manifests", []):
            child_manifest = layout.manifest(child)
            push(child_manifest)
            client.put_manifest(reference.repository, child_manifest.digest, child_manifest)
        for blob in [document.get("config"), *document.get("layers", [])]:
            if blob:
                client.put_blob(reference.repository, blob["digest"], layout.blob(blob["digest"]))

    push(top)
    client.put_manifest(reference.repository, reference.tag, top)
    return top.digest
