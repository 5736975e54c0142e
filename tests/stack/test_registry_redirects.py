"""A registry that sends blob reads elsewhere (GHCR, Docker Hub and S3-backed registries answer
a blob GET with a redirect to their storage host): the registry credentials stay with the
registry and the blob is still read."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from release.oci import RegistryClient, digest_of
from tests.stack.conftest import htpasswd_registry

USERNAME = "releaser"


@dataclass
class StorageHost:
    """Where the registry redirects blob reads: serves the blob, records each request's headers."""

    blob: bytes
    seen: list[dict[str, str]] = field(default_factory=list)
    port: int = 0


@pytest.fixture
def storage_host() -> Iterator[StorageHost]:
    host = StorageHost(b"a layer " + secrets.token_bytes(32))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host.seen.append(dict(self.headers.items()))
            self.send_response(200)
            self.send_header("Content-Length", str(len(host.blob)))
            self.end_headers()
            self.wfile.write(host.blob)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def redirecting_registry(tmp_path: Path, storage_host: StorageHost) -> Iterator[tuple[str, str]]:
    """A real registry with htpasswd auth whose redirect middleware sends blob reads to the
    storage host: (host, password)."""
    password = f"canary-redirect-{secrets.token_hex(16)}"
    redirect = (
        "middleware:\n  storage:\n    - name: redirect\n      options:\n"
        f"        baseurl: http://127.0.0.1:{storage_host.port}/\n"
    )
    with htpasswd_registry(
        tmp_path, password, username=USERNAME, realm="barycenter-redirect", extra_config=redirect
    ) as host:
        yield host, password


def test_a_blob_read_redirected_to_another_host_carries_no_registry_credentials(
    redirecting_registry: tuple[str, str], storage_host: StorageHost
) -> None:
    host, password = redirecting_registry
    client = RegistryClient(host, (USERNAME, password))
    digest = digest_of(storage_host.blob)
    client.put_blob("barycenter-redirect", digest, storage_host.blob)

    assert client.blob("barycenter-redirect", digest) == storage_host.blob
    assert len(storage_host.seen) == 1  # the read went to the storage host
    sent = "\n".join(f"{name}: {value}" for name, value in storage_host.seen[0].items())
    assert "authorization" not in sent.lower()
    assert password not in sent
    assert base64.b64encode(f"{USERNAME}:{password}".encode()).decode() not in sent
