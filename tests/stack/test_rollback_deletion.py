"""release.rollback deletes X's manifests from a registry that wants a login, logged in as the
release pushes (the password from the configured variable, never in argv), and names a refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from release.config import ReleaseConfig
from release.errors import ReleaseError
from release.oci import Manifest, Reference, RegistryClient, digest_of
from release.rollback import delete_manifest
from tests.stack.conftest import htpasswd_registry

PASSWORD = "rollback-Registry-Password-5e1f"  # noqa: S105 - a test registry's own
VARIABLE = "BARYCENTER_TEST_REGISTRY_PASSWORD"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def pushed_image(client: RegistryClient, repository: str, tag: str) -> str:
    """A minimal image (an empty config, no layers) under `tag`; its manifest digest."""
    config = b"{}"
    client.put_blob(repository, digest_of(config), config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest_of(config),
            "size": len(config),
        },
        "layers": [],
    }
    data = json.dumps(manifest).encode()
    client.put_manifest(repository, tag, Manifest(data, OCI_MANIFEST))
    return digest_of(data)


def test_rollback_deletes_a_manifest_from_a_registry_that_wants_a_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with htpasswd_registry(tmp_path, PASSWORD, delete_enabled=True) as host:
        image = f"{host}/barycenter"
        reference = Reference.parse(f"{image}:v1.0.0")
        client = RegistryClient(host, ("releaser", PASSWORD))
        digest = pushed_image(client, reference.repository, "v1.0.0")
        assert client.manifest(reference.repository, digest) is not None
        config = ReleaseConfig(
            root=tmp_path, registry_username="releaser", registry_password_env=VARIABLE
        )

        monkeypatch.delenv(VARIABLE, raising=False)
        with pytest.raises(ReleaseError) as anonymous:
            delete_manifest(image, digest, config)
        assert str(anonymous.value).startswith(f"the registry {host} refused access"), anonymous
        assert client.manifest(reference.repository, digest) is not None

        monkeypatch.setenv(VARIABLE, PASSWORD)
        delete_manifest(image, digest, config)
        assert client.manifest(reference.repository, digest) is None
        assert client.manifest(reference.repository, "v1.0.0") is None
        delete_manifest(image, digest, config)  # already gone: a rerun converges
