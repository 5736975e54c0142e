"""The release's provenance as published: where its key and bundle are, what it must name
(the index, each platform's manifest, every archive), and reading it back from the registry.

Shared by the attest step, which writes it, and the checklist and consumer checks, which read
it: no step module is imported for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release import cosign, registry
from release.attestation import platform_subject, statement_of, subject_digests
from release.dist import file_sha256, provenance_bundle
from release.oci import platform_of

if TYPE_CHECKING:
    from release.plan import Plan

KEYLESS = (
    "in GitHub Actions without {key}, the workflow's actions/attest-build-provenance attests "
    "keyless"
)


def bundle_name(tag: str) -> str:
    return provenance_bundle(tag)


def key_path(plan: Plan) -> Path:
    return plan.root / plan.config.attestation_key


def public_key_path(plan: Plan) -> Path:
    return plan.root / plan.config.attestation_public_key


def bundle_path(plan: Plan) -> Path:
    return plan.dist / bundle_name(plan.tag)


def keyless(plan: Plan) -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true" and not key_path(plan).exists()


@dataclass(frozen=True)
class Published:
    """The release's image in the registry: its index and each platform's manifest."""

    index: str  # sha256:<hex>
    platforms: Mapping[str, str]  # linux/arm64 -> sha256:<hex>

    def digests(self) -> dict[str, str]:
        """Every digest a consumer may hold, by what it names: "index", then each platform."""
        return {"index": self.index, **dict(sorted(self.platforms.items()))}


def published_of(index: Mapping[str, Any]) -> Published:
    """The index manifest as read from the registry (with its digest), platform by platform;
    buildx's attestation manifests (platform unknown/unknown) are no platform."""
    platforms = {
        platform_of(entry): str(entry["digest"])
        for entry in index.get("manifests") or []
        if (entry.get("platform") or {}).get("os") != "unknown"
    }
    return Published(str(index["digest"]), platforms)


def published(plan: Plan) -> Published | None:
    found = registry.manifest(f"{plan.image}:{plan.tag}", timeout=plan.config.registry_timeout)
    return None if found is None else published_of(found)


def index_digest(plan: Plan) -> str | None:
    found = published(plan)
    return None if found is None else found.index


def archive_digests(plan: Plan) -> dict[str, str]:
    return {name: file_sha256(plan.dist / name) for name in plan.archives}


def expected_subjects(plan: Plan, image: Published) -> dict[str, str]:
    """Subject name -> sha256 hex that this release's statement must name: the index, each
    platform's manifest and every archive as it is in dist/."""
    expected = {plan.image: image.index.removeprefix("sha256:")}
    for platform, digest in image.platforms.items():
        expected[platform_subject(plan.image, platform)] = digest.removeprefix("sha256:")
    return expected | archive_digests(plan)


def covers(document: Mapping[str, Any], expected: Mapping[str, str]) -> bool:
    """Whether a statement names every expected subject with its digest."""
    subjects = subject_digests(document)
    return all(subjects.get(name) == sha for name, sha in expected.items())


def statement_on(plan: Plan, digest: str, expected: Mapping[str, str]) -> dict[str, Any] | None:
    """The envelope attached to IMAGE@DIGEST that verifies there with the public key and covers
    the expected subjects; None when there is none."""
    try:
        verified = cosign.verify_attestation(
            plan.image, digest, public_key_path(plan), plan.config.registry_timeout
        )
    except cosign.VerificationError:
        return None
    for dsse in verified.envelopes:
        found = statement_of(dsse)
        if found is not None and covers(found, expected):
            return dsse
    return None


def attached_statement(plan: Plan, digest: str, expected: Mapping[str, str]) -> bool:
    """Whether IMAGE@DIGEST has an attestation attached (cosign's tag beside it) whose statement
    covers the expected subjects: read over the registry's HTTP API, NOT verified (no cosign,
    no key): release.status's glance; verifying is release.verify's."""
    from release.oci import Source

    reference = f"{plan.image}:{cosign.attachment_tag(digest)}"
    attached = registry.read_manifest(reference, timeout=plan.config.registry_timeout)
    if attached is None:
        return False
    client, parsed = registry.client_for(reference, plan.config.registry_timeout)
    source = Source.of_registry(client, parsed.repository)
    for layer in attached.json.get("layers", []):
        try:
            dsse = json.loads(source.blob(str(layer["digest"])))
        except ValueError:
            continue
        found = statement_of(dsse) if isinstance(dsse, dict) else None
        if found is not None and covers(found, expected):
            return True
    return False


def held_statements(plan: Plan, image: Published) -> dict[str, dict[str, Any] | None]:
    """For the index and each platform: the covering envelope it holds, or None."""
    expected = expected_subjects(plan, image)
    return {what: statement_on(plan, digest, expected) for what, digest in image.digests().items()}


def short(digest: str) -> str:
    return "sha256:" + digest.removeprefix("sha256:")[:12]


def bundle_problem(plan: Plan, image: Published, verify: bool = True) -> str | None:
    """Why dist/'s bundle is not this release's verified provenance, or None. Without `verify`
    (release.status's glance): only whether it names the index, each platform and archive."""
    path = bundle_path(plan)
    if not path.is_file():
        return f"{path.name} is not in {plan.dist}"
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"{path.name} is not JSON"
    found = statement_of(document) if isinstance(document, dict) else None
    names = subject_digests(found or {}).values()
    if image.index.removeprefix("sha256:") not in names:
        return f"{path.name} names another index than {plan.image}@{image.index}"
    for platform, digest in image.platforms.items():
        if digest.removeprefix("sha256:") not in names:
            return f"{path.name} does not name the {platform} image {plan.image}@{short(digest)}"
    if not verify:
        named = subject_digests(found or {})
        wrong = [name for name, sha in archive_digests(plan).items() if named.get(name) != sha]
        return f"{path.name} does not name {', '.join(wrong)} as in dist/" if wrong else None
    for name in plan.archives:
        try:
            cosign.verify_blob_attestation(plan.dist / name, path, public_key_path(plan))
        except cosign.VerificationError:
            return f"{name} does not verify against {path.name}"
    return None
