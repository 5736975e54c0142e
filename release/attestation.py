"""The build provenance of a release: an in-toto Statement v1 with an SLSA Provenance v1
predicate, made from plain values (no I/O, no clock), so the same inputs give the same bytes.

Subjects: the multi-arch index (named by the image repository), each platform's manifest (named
by the repository and the platform, `IMAGE (linux/arm64)`: the digest `docker pull --platform`,
a node or a scanner records) and each archive (named by its file name), each by sha256. The
predicate names this project's build type (BUILD_TYPE, see the README's "Build provenance"),
the repository, tag and ref, the workflow run when in GitHub Actions, the tag's commit as
resolved dependency, and who built it when.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from release.errors import ReleaseError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
# DSSE's payload type for in-toto statements.
PAYLOAD_TYPE = "application/vnd.in-toto+json"
# What "a Barycenter release build" means: the tag's tree built by `invoke release.build` (one
# buildx build per platform from `git archive` of the tag, SOURCE_DATE_EPOCH the tag's commit
# time), assembled by `invoke release.publish`. Documented in the README, "Build provenance".
BUILD_TYPE = "https://github.com/barycenter-oidc/barycenter/blob/main/README.md#build-type-v1"
# The builder of a release made on a maintainer's machine with the offline key.
OFFLINE_BUILDER = (
    "https://github.com/barycenter-oidc/barycenter/blob/main/README.md#offline-builder"
)

HEX64 = re.compile(r"[0-9a-f]{64}")
GIT_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


@dataclass(frozen=True)
class GitHubRun:
    """The GitHub Actions run a release was made in, from the runner's environment."""

    server: str  # GITHUB_SERVER_URL, e.g. https://github.com
    repository: str  # GITHUB_REPOSITORY, owner/name
    workflow_ref: str  # GITHUB_WORKFLOW_REF, owner/name/.github/workflows/x.yml@refs/tags/v1
    run_id: str  # GITHUB_RUN_ID
    run_attempt: str  # GITHUB_RUN_ATTEMPT

    @property
    def builder_id(self) -> str:
        """The workflow file at its ref: what GitHub's own provenance names as builder."""
        return f"{self.server}/{self.workflow_ref}"

    @property
    def invocation_id(self) -> str:
        return (
            f"{self.server}/{self.repository}/actions/runs/{self.run_id}"
            f"/attempts/{self.run_attempt}"
        )


def github_run(environ: Mapping[str, str]) -> GitHubRun | None:
    """The Actions run named by these environment variables, or None outside Actions."""
    if environ.get("GITHUB_ACTIONS") != "true":
        return None
    names = ("GITHUB_REPOSITORY", "GITHUB_WORKFLOW_REF", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT")
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise ReleaseError(
            f"GITHUB_ACTIONS is set but {', '.join(missing)} is not",
            "run the release in a GitHub Actions job, or unset GITHUB_ACTIONS",
        )
    return GitHubRun(
        server=environ.get("GITHUB_SERVER_URL") or "https://github.com",
        repository=environ["GITHUB_REPOSITORY"],
        workflow_ref=environ["GITHUB_WORKFLOW_REF"],
        run_id=environ["GITHUB_RUN_ID"],
        run_attempt=environ["GITHUB_RUN_ATTEMPT"],
    )


@dataclass(frozen=True)
class Provenance:
    """Everything the statement says, as plain values."""

    image: str  # the image repository, without tag: ghcr.io/o/barycenter
    index_digest: str  # sha256:<hex> of the multi-arch index
    archives: Mapping[str, str]  # archive file name -> sha256 hex
    source_url: str  # https://github.com/o/barycenter
    tag: str  # v1.2.0
    revision: str  # the tag's commit sha
    invocation_id: str  # what this run is called: the Actions run, or a fresh id
    started_on: datetime
    finished_on: datetime
    run: GitHubRun | None = None
    # platform (linux/arm64) -> sha256:<hex> of its manifest in the index
    platforms: Mapping[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"refs/tags/{self.tag}"


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ReleaseError("a provenance time has no time zone", "pass an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_hex(digest: str, what: str) -> str:
    """`sha256:<hex>` or `<hex>` -> `<hex>`, refusing anything else."""
    value = digest.removeprefix("sha256:")
    if not HEX64.fullmatch(value):
        raise ReleaseError(f"{what} has no sha256 digest ({digest!r})", "this is a bug: report it")
    return value


def platform_subject(image: str, platform: str) -> str:
    """The subject name of one platform's manifest: `IMAGE (linux/arm64)`."""
    return f"{image} ({platform})"


def subjects(provenance: Provenance) -> list[dict[str, Any]]:
    found = [
        {
            "name": provenance.image,
            "digest": {"sha256": sha256_hex(provenance.index_digest, provenance.image)},
        }
    ]
    for platform in sorted(provenance.platforms):
        name = platform_subject(provenance.image, platform)
        found.append(
            {"name": name, "digest": {"sha256": sha256_hex(provenance.platforms[platform], name)}}
        )
    for name in sorted(provenance.archives):
        found.append(
            {"name": name, "digest": {"sha256": sha256_hex(provenance.archives[name], name)}}
        )
    return found


def external_parameters(provenance: Provenance) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "repository": provenance.source_url,
        "tag": provenance.tag,
        "ref": provenance.ref,
    }
    if provenance.run is not None:
        parameters["workflow"] = {
            "repository": f"{provenance.run.server}/{provenance.run.repository}",
            "ref": provenance.run.workflow_ref,
        }
        parameters["runId"] = provenance.run.run_id
        parameters["runAttempt"] = provenance.run.run_attempt
    return parameters


def predicate(provenance: Provenance) -> dict[str, Any]:
    """The SLSA Provenance v1 predicate."""
    if not GIT_SHA.fullmatch(provenance.revision):
        raise ReleaseError(
            f"the tag {provenance.tag} has no commit sha ({provenance.revision!r})",
            "push the tag first (invoke release.tag)",
        )
    if not provenance.source_url:
        raise ReleaseError(
            "source-url is empty in [tool.barycenter.release]",
            'set it, e.g. source-url = "https://github.com/o/barycenter"',
        )
    started, finished = rfc3339(provenance.started_on), rfc3339(provenance.finished_on)
    if provenance.finished_on < provenance.started_on:
        raise ReleaseError("the provenance finishes before it starts", "this is a bug: report it")
    builder = provenance.run.builder_id if provenance.run is not None else OFFLINE_BUILDER
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": external_parameters(provenance),
            "internalParameters": {},
            "resolvedDependencies": [
                {
                    "uri": f"git+{provenance.source_url}@{provenance.ref}",
                    "digest": {"gitCommit": provenance.revision},
                }
            ],
        },
        "runDetails": {
            "builder": {"id": builder},
            "metadata": {
                "invocationId": provenance.invocation_id,
                "startedOn": started,
                "finishedOn": finished,
            },
        },
    }


def statement(provenance: Provenance) -> dict[str, Any]:
    """The in-toto Statement v1 whose subjects are the index, each platform's manifest and
    every archive."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects(provenance),
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate(provenance),
    }


def canonical(document: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: compact JSON, keys sorted, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a DSSE signature signs."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def envelope(body: bytes, signature: str) -> dict[str, Any]:
    """A DSSE envelope for an in-toto statement and its base64 signature over `pae`."""
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode(),
        "signatures": [{"keyid": "", "sig": signature}],
    }


def bundle(dsse: Mapping[str, Any], key_hint: str = "") -> dict[str, Any]:
    """A Sigstore bundle v0.3 holding a key-signed DSSE envelope (no certificate, no tlog)."""
    return {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": key_hint}, "tlogEntries": []},
        "dsseEnvelope": dict(dsse),
    }


def statement_of(document: Mapping[str, Any]) -> dict[str, Any] | None:
    """The statement inside a DSSE envelope or a bundle (not verified: verify first), or None."""
    dsse = document.get("dsseEnvelope", document)
    if not isinstance(dsse, Mapping) or dsse.get("payloadType") != PAYLOAD_TYPE:
        return None
    try:
        found = json.loads(base64.b64decode(str(dsse.get("payload", "")), validate=True))
    except (ValueError, TypeError):
        return None
    return found if isinstance(found, dict) else None


def subject_digests(document: Mapping[str, Any]) -> dict[str, str]:
    """Subject name -> sha256 hex of a statement."""
    found: dict[str, str] = {}
    for subject in document.get("subject") or []:
        if isinstance(subject, Mapping) and isinstance(subject.get("digest"), Mapping):
            sha = subject["digest"].get("sha256")
            if isinstance(sha, str):
                found[str(subject.get("name", ""))] = sha
    return found
