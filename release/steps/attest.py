"""Step `attest`: sign the release's build provenance, attach it to the image, bundle it in dist/.

With the offline key (attestation-key, its password in attestation-password-env): one in-toto
Statement v1 (SLSA Provenance v1) whose subjects are the index, each platform's manifest and
every archive is signed with cosign, attached to IMAGE@INDEX-DIGEST and to IMAGE@PLATFORM-DIGEST
for each platform (so a consumer holding any of them verifies it), and written as one Sigstore
bundle, dist/barycenter-vX.provenance.sigstore.json, that covers every archive (the GitHub
release uploads dist/barycenter-vX*). In GitHub Actions without the key file, the step does not
apply: the workflow's keyless `actions/attest-build-provenance` attests instead (what `gh
attestation verify` checks).

Done when the index and every platform's manifest each hold an attestation that verifies there
with the public key and names them all and the archives, and the bundle in dist/ verifies
against each archive, naming the same digests.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release import cosign, registry
from release.attestation import (
    Provenance,
    bundle,
    canonical,
    github_run,
    platform_subject,
    statement,
    statement_of,
    subject_digests,
)
from release.dist import file_sha256, write_atomically
from release.errors import ReleaseError
from release.oci import platform_of
from release.plan import tagged_commit
from release.steps import Say, Status, Step

if TYPE_CHECKING:
    from release.plan import Plan

KEYLESS = (
    "in GitHub Actions without {key}, the workflow's actions/attest-build-provenance attests "
    "keyless"
)


def bundle_name(tag: str) -> str:
    return f"barycenter-{tag}.provenance.sigstore.json"


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


def held_statements(plan: Plan, image: Published) -> dict[str, dict[str, Any] | None]:
    """For the index and each platform: the covering envelope it holds, or None."""
    expected = expected_subjects(plan, image)
    return {what: statement_on(plan, digest, expected) for what, digest in image.digests().items()}


def short(digest: str) -> str:
    return "sha256:" + digest.removeprefix("sha256:")[:12]


def bundle_problem(plan: Plan, image: Published) -> str | None:
    """Why dist/'s bundle is not this release's verified provenance, or None."""
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
    for name in plan.archives:
        try:
            cosign.verify_blob_attestation(plan.dist / name, path, public_key_path(plan))
        except cosign.VerificationError:
            return f"{name} does not verify against {path.name}"
    return None


class AttestProvenance(Step):
    name = "attest"
    trusts_tag = True
    title = "Sign the build provenance: attached to the image, a bundle in dist/"

    def check(self, plan: Plan) -> list[str]:
        if keyless(plan):
            return []
        problems = []
        config = plan.config
        key, public = key_path(plan), public_key_path(plan)
        if not key.is_file():
            problems.append(
                f"the attestation key {key} is missing: make one with `invoke release.keygen`, "
                "or name yours in attestation-key"
            )
        if not public.is_file():
            problems.append(
                f"the attestation public key {public} is missing: keep it beside the key "
                "(invoke release.keygen writes both), or name it in attestation-public-key"
            )
        if config.attestation_password_env not in os.environ:
            problems.append(
                f"${config.attestation_password_env} is not set: export the attestation key's "
                "password in it (attestation-password-env names another variable)"
            )
        if not config.source_url:
            problems.append(
                "source-url is empty in [tool.barycenter.release]: set it, e.g. "
                'source-url = "https://github.com/o/barycenter"'
            )
        try:
            cosign.binary()
        except ReleaseError as error:
            problems.append(str(error))
        if tagged_commit(plan) is None and not {"tag", "push"} & plan.stages:
            problems.append(f"the tag {plan.tag} does not exist: tag it first (invoke release.tag)")
        if "binaries" not in plan.stages:
            problems.extend(
                f"{plan.dist / name} is missing: build it first (invoke release.build)"
                for name in plan.archives
                if not (plan.dist / name).is_file()
            )
        if "publish" not in plan.stages:
            try:
                if index_digest(plan) is None:
                    problems.append(
                        f"{plan.image}:{plan.tag} is not in the registry: publish it first "
                        "(invoke release.publish)"
                    )
            except ReleaseError as error:
                problems.append(str(error))
        return problems

    def state(self, plan: Plan) -> Status:
        if keyless(plan):
            return Status.skip(KEYLESS.format(key=plan.config.attestation_key))
        if not public_key_path(plan).is_file():
            return Status.todo(f"no public key {public_key_path(plan)} to verify with")
        missing = [name for name in plan.archives if not (plan.dist / name).is_file()]
        if missing:
            return Status.todo(f"{', '.join(missing)} not in {plan.dist}")
        image = published(plan)
        if image is None:
            return Status.todo(f"{plan.image}:{plan.tag} is not published")
        held = held_statements(plan, image)
        lacking = [what for what, dsse in held.items() if dsse is None]
        if lacking:
            digests = image.digests()
            named = ", ".join(f"{what} {plan.image}@{digests[what]}" for what in lacking)
            return Status.todo(
                f"no attestation covering the index, each platform and the archives verifies "
                f"with {public_key_path(plan).name} on {named}"
            )
        problem = bundle_problem(plan, image)
        if problem is not None:
            return Status.todo(problem)
        return Status.done(
            f"{plan.image}@{image.index}, its {len(image.platforms)} platform manifests and "
            f"{len(plan.archives)} archives verify with {public_key_path(plan).name}"
        )

    def describe(self, plan: Plan) -> list[str]:
        subjects = ", ".join(
            (
                f"{plan.image}:{plan.tag} (index digest)",
                *(f"its {platform} manifest" for platform in plan.config.platforms),
                *plan.archives,
            )
        )
        return [
            f"make an in-toto SLSA provenance statement of {subjects}",
            f"sign it with cosign and {key_path(plan).name}; attach it to the index and to each "
            "platform's manifest",
            f"write {plan.dist / bundle_name(plan.tag)}",
        ]

    def run(self, plan: Plan, say: Say) -> None:
        started = datetime.now(UTC)
        image = published(plan)
        if image is None:
            raise ReleaseError(
                f"{plan.image}:{plan.tag} is not in the registry",
                "publish it (invoke release.publish)",
            )
        revision = tagged_commit(plan)
        if revision is None:
            raise ReleaseError(f"the tag {plan.tag} does not exist", "tag it (invoke release.tag)")
        held = held_statements(plan, image)
        # A run interrupted between two attachments left the signed statement on some digests:
        # it is reused for the others, so every digest carries the same statement.
        dsse = next((found for found in held.values() if found is not None), None)
        if dsse is None:
            actions = github_run(os.environ)
            provenance = Provenance(
                image=plan.image,
                index_digest=image.index,
                platforms=image.platforms,
                archives=archive_digests(plan),
                source_url=plan.config.source_url,
                tag=plan.tag,
                revision=revision,
                invocation_id=actions.invocation_id if actions else f"urn:uuid:{uuid.uuid4()}",
                started_on=started,
                finished_on=datetime.now(UTC),
                run=actions,
            )
            password = os.environ.get(plan.config.attestation_password_env, "")
            dsse = cosign.sign_statement(canonical(statement(provenance)), key_path(plan), password)
        else:
            say(f"{plan.image} holds a verified provenance already: reusing it")
        digests = image.digests()
        for what, found in held.items():
            if found is None:
                cosign.attach_attestation(
                    plan.image, digests[what], dsse, plan.config.registry_timeout
                )
                say(f"attached the provenance to {plan.image}@{digests[what]} ({what})")
        hint = cosign.key_hint(public_key_path(plan).read_text())
        write_atomically(bundle_path(plan), json.dumps(bundle(dsse, hint), indent=2) + "\n")
        say(f"wrote {bundle_path(plan)}")
