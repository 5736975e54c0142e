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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from release import cosign
from release.attestation import (
    Provenance,
    bundle,
    canonical,
    github_run,
    statement,
)
from release.dist import write_atomically
from release.errors import ReleaseError
from release.plan import tagged_commit
from release.provenance import (
    KEYLESS,
    archive_digests,
    attached_statement,
    bundle_name,
    bundle_path,
    bundle_problem,
    expected_subjects,
    held_statements,
    index_digest,
    key_path,
    keyless,
    public_key_path,
    published,
)
from release.steps import ARCHIVES, INDEX, PROVENANCE, TAG, Need, Say, Status, Step, checks

if TYPE_CHECKING:
    from release.plan import Plan


def unkeyed(problems: Callable[[Plan], list[str]]) -> Callable[[Plan], list[str]]:
    """A need of the key-signed attestation: none when the workflow attests keyless."""
    return lambda plan: [] if keyless(plan) else problems(plan)


def tag_missing(plan: Plan) -> list[str]:
    if tagged_commit(plan) is None:
        return [f"the tag {plan.tag} does not exist: tag it first (invoke release.tag)"]
    return []


def archives_missing(plan: Plan) -> list[str]:
    return [
        f"{plan.dist / name} is missing: build it first (invoke release.build)"
        for name in plan.archives
        if not (plan.dist / name).is_file()
    ]


@checks.reading
def index_missing(plan: Plan) -> list[str]:
    if index_digest(plan) is None:
        return [
            f"{plan.image}:{plan.tag} is not in the registry: publish it first "
            "(invoke release.publish)"
        ]
    return []


class AttestProvenance(Step):
    name = "attest"
    title = "Sign the build provenance: attached to the image, a bundle in dist/"
    makes = frozenset({PROVENANCE})

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
        return problems

    def needs(self) -> tuple[Need, ...]:
        return (
            Need(TAG, unkeyed(tag_missing)),
            Need(ARCHIVES, unkeyed(archives_missing)),
            Need(INDEX, unkeyed(index_missing)),
        )

    def state(self, plan: Plan) -> Status:
        return self.read(plan, verify=True)

    def glance(self, plan: Plan) -> Status:
        return self.read(plan, verify=False)

    def read(self, plan: Plan, verify: bool) -> Status:
        """The state; without `verify` (release.status) the attached statements and the bundle
        are read, not verified with cosign: invoke release.verify verifies them."""
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
        if verify:
            held = held_statements(plan, image)
            lacking = [what for what, dsse in held.items() if dsse is None]
        else:
            expected = expected_subjects(plan, image)
            lacking = [
                what
                for what, digest in image.digests().items()
                if not attached_statement(plan, digest, expected)
            ]
        if lacking:
            digests = image.digests()
            named = ", ".join(f"{what} {plan.image}@{digests[what]}" for what in lacking)
            how = f"verifies with {public_key_path(plan).name}" if verify else "is attached"
            return Status.todo(
                f"no attestation covering the index, each platform and the archives {how} "
                f"on {named}"
            )
        problem = bundle_problem(plan, image, verify)
        if problem is not None:
            return Status.todo(problem)
        if not verify:
            return Status.done(
                f"{plan.image}@{image.index}, its {len(image.platforms)} platform manifests and "
                f"{len(plan.archives)} archives have attestations attached (read, not verified: "
                "invoke release.verify)"
            )
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
