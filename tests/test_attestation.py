"""The provenance statement, made from plain values: exact documents, table by table."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from release.attestation import (
    BUILD_TYPE,
    OFFLINE_BUILDER,
    GitHubRun,
    Provenance,
    bundle,
    canonical,
    envelope,
    github_run,
    pae,
    statement,
    statement_of,
    subject_digests,
)
from release.cosign import key_hint, last_words, registry_flags
from release.errors import ReleaseError

INDEX = "sha256:" + "a" * 64
AMD64 = "b" * 64
ARM64 = "c" * 64
COMMIT = "0123456789abcdef0123456789abcdef01234567"
STARTED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
FINISHED = datetime(2026, 3, 1, 12, 0, 42, tzinfo=UTC)
RUN = GitHubRun(
    server="https://github.com",
    repository="barycenter-oidc/barycenter",
    workflow_ref="barycenter-oidc/barycenter/.github/workflows/release.yml@refs/tags/v1.2.0",
    run_id="987654321",
    run_attempt="2",
)


def provenance(**changes: Any) -> Provenance:
    values: dict[str, Any] = {
        "image": "ghcr.io/barycenter-oidc/barycenter",
        "index_digest": INDEX,
        "archives": {
            "barycenter-v1.2.0-linux-arm64.tar.gz": ARM64,
            "barycenter-v1.2.0-linux-amd64.tar.gz": AMD64,
        },
        "source_url": "https://github.com/barycenter-oidc/barycenter",
        "tag": "v1.2.0",
        "revision": COMMIT,
        "invocation_id": "urn:uuid:5f0c6a52-5d1c-4b8e-9a57-8d5b3f5f0e11",
        "started_on": STARTED,
        "finished_on": FINISHED,
        "run": None,
    }
    values.update(changes)
    return Provenance(**values)


def test_an_offline_statement_exactly() -> None:
    assert statement(provenance()) == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": "ghcr.io/barycenter-oidc/barycenter", "digest": {"sha256": "a" * 64}},
            {"name": "barycenter-v1.2.0-linux-amd64.tar.gz", "digest": {"sha256": AMD64}},
            {"name": "barycenter-v1.2.0-linux-arm64.tar.gz", "digest": {"sha256": ARM64}},
        ],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "repository": "https://github.com/barycenter-oidc/barycenter",
                    "tag": "v1.2.0",
                    "ref": "refs/tags/v1.2.0",
                },
                "internalParameters": {},
                "resolvedDependencies": [
                    {
                        "uri": "git+https://github.com/barycenter-oidc/barycenter@refs/tags/v1.2.0",
                        "digest": {"gitCommit": COMMIT},
                    }
                ],
            },
            "runDetails": {
                "builder": {"id": OFFLINE_BUILDER},
                "metadata": {
                    "invocationId": "urn:uuid:5f0c6a52-5d1c-4b8e-9a57-8d5b3f5f0e11",
                    "startedOn": "2026-03-01T12:00:00Z",
                    "finishedOn": "2026-03-01T12:00:42Z",
                },
            },
        },
    }


def test_each_platform_manifest_is_a_subject_named_by_its_platform() -> None:
    platforms = {"linux/arm64": "sha256:" + "e" * 64, "linux/amd64": "sha256:" + "d" * 64}
    assert statement(provenance(platforms=platforms))["subject"] == [
        {"name": "ghcr.io/barycenter-oidc/barycenter", "digest": {"sha256": "a" * 64}},
        {
            "name": "ghcr.io/barycenter-oidc/barycenter (linux/amd64)",
            "digest": {"sha256": "d" * 64},
        },
        {
            "name": "ghcr.io/barycenter-oidc/barycenter (linux/arm64)",
            "digest": {"sha256": "e" * 64},
        },
        {"name": "barycenter-v1.2.0-linux-amd64.tar.gz", "digest": {"sha256": AMD64}},
        {"name": "barycenter-v1.2.0-linux-arm64.tar.gz", "digest": {"sha256": ARM64}},
    ]


def test_a_platform_digest_that_is_no_sha256_is_refused() -> None:
    with pytest.raises(ReleaseError, match=r"\(linux/arm64\) has no sha256 digest"):
        statement(provenance(platforms={"linux/arm64": "sha512:abc"}))


def test_in_actions_the_statement_names_the_workflow_and_run() -> None:
    made = statement(provenance(run=RUN, invocation_id=RUN.invocation_id))
    predicate = made["predicate"]
    assert predicate["buildDefinition"]["externalParameters"] == {
        "repository": "https://github.com/barycenter-oidc/barycenter",
        "tag": "v1.2.0",
        "ref": "refs/tags/v1.2.0",
        "workflow": {
            "repository": "https://github.com/barycenter-oidc/barycenter",
            "ref": "barycenter-oidc/barycenter/.github/workflows/release.yml@refs/tags/v1.2.0",
        },
        "runId": "987654321",
        "runAttempt": "2",
    }
    assert predicate["runDetails"]["builder"] == {
        "id": "https://github.com/barycenter-oidc/barycenter/.github/workflows/release.yml"
        "@refs/tags/v1.2.0"
    }
    assert predicate["runDetails"]["metadata"]["invocationId"] == (
        "https://github.com/barycenter-oidc/barycenter/actions/runs/987654321/attempts/2"
    )


ACTIONS_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "barycenter-oidc/barycenter",
    "GITHUB_WORKFLOW_REF": RUN.workflow_ref,
    "GITHUB_RUN_ID": "987654321",
    "GITHUB_RUN_ATTEMPT": "2",
}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"GITHUB_ACTIONS": "false", "GITHUB_RUN_ID": "1"}, None),
        (ACTIONS_ENV, RUN),
        (
            {**ACTIONS_ENV, "GITHUB_SERVER_URL": "https://ghes.example.com"},
            GitHubRun(
                "https://ghes.example.com",
                RUN.repository,
                RUN.workflow_ref,
                RUN.run_id,
                RUN.run_attempt,
            ),
        ),
    ],
    ids=["outside", "not-actions", "actions", "enterprise-server"],
)
def test_the_actions_run_comes_from_the_environment(
    environ: dict[str, str], expected: GitHubRun | None
) -> None:
    assert github_run(environ) == expected


def test_actions_without_a_run_id_is_refused() -> None:
    environ = {k: v for k, v in ACTIONS_ENV.items() if k != "GITHUB_RUN_ID"}
    with pytest.raises(ReleaseError, match="GITHUB_RUN_ID is not"):
        github_run(environ)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"index_digest": "sha256:abc"}, "ghcr.io/barycenter-oidc/barycenter has no sha256 digest"),
        ({"archives": {"x.tar.gz": "Z" * 64}}, "x.tar.gz has no sha256 digest"),
        ({"revision": "v1.2.0"}, "the tag v1.2.0 has no commit sha"),
        ({"source_url": ""}, "source-url is empty"),
        ({"finished_on": STARTED - timedelta(seconds=1)}, "finishes before it starts"),
        ({"started_on": datetime(2026, 3, 1)}, "has no time zone"),
    ],
    ids=["short-index", "bad-archive", "no-commit", "no-source", "time-order", "naive-time"],
)
def test_bad_inputs_are_refused_with_a_line(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ReleaseError, match=message):
        statement(provenance(**changes))


def test_times_are_utc_whatever_zone_they_come_in() -> None:
    paris = timezone(timedelta(hours=1))
    made = statement(
        provenance(
            started_on=datetime(2026, 3, 1, 13, 0, 0, tzinfo=paris),
            finished_on=datetime(2026, 3, 1, 13, 0, 42, tzinfo=paris),
        )
    )
    assert made["predicate"]["runDetails"]["metadata"]["startedOn"] == "2026-03-01T12:00:00Z"


def test_a_sha256_prefix_on_archive_digests_is_accepted_and_dropped() -> None:
    made = statement(provenance(archives={"one.tar.gz": "sha256:" + AMD64}))
    assert made["subject"][1] == {"name": "one.tar.gz", "digest": {"sha256": AMD64}}


def test_the_signed_bytes_are_canonical_and_stable() -> None:
    first = canonical(statement(provenance()))
    reordered = provenance(archives=dict(reversed(list(provenance().archives.items()))))
    assert canonical(statement(reordered)) == first
    assert first.startswith(b'{"_type":"https://in-toto.io/Statement/v1","predicate":{')


@pytest.mark.parametrize(
    ("payload_type", "body", "expected"),
    [
        ("application/vnd.in-toto+json", b"{}", b"DSSEv1 28 application/vnd.in-toto+json 2 {}"),
        ("t", b"", b"DSSEv1 1 t 0 "),
        ("t", "é".encode(), b"DSSEv1 1 t 2 \xc3\xa9"),
    ],
)
def test_dsse_pre_authentication_encoding(payload_type: str, body: bytes, expected: bytes) -> None:
    assert pae(payload_type, body) == expected


def test_an_envelope_and_a_bundle_give_their_statement_back() -> None:
    made = statement(provenance())
    dsse = envelope(canonical(made), "c2lnbmF0dXJl")
    assert dsse == {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(canonical(made)).decode(),
        "signatures": [{"keyid": "", "sig": "c2lnbmF0dXJl"}],
    }
    wrapped = bundle(dsse, "aGludA==")
    assert wrapped["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert wrapped["verificationMaterial"] == {"publicKey": {"hint": "aGludA=="}, "tlogEntries": []}
    assert statement_of(dsse) == made
    assert statement_of(wrapped) == made
    assert subject_digests(made) == {
        "ghcr.io/barycenter-oidc/barycenter": "a" * 64,
        "barycenter-v1.2.0-linux-amd64.tar.gz": AMD64,
        "barycenter-v1.2.0-linux-arm64.tar.gz": ARM64,
    }


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"payloadType": "text/plain", "payload": "e30="},
        {"payloadType": "application/vnd.in-toto+json", "payload": "not base64!"},
        {"payloadType": "application/vnd.in-toto+json", "payload": "W10="},  # a JSON list
        {"dsseEnvelope": "nope"},
    ],
    ids=["empty", "other-type", "bad-base64", "not-an-object", "bad-bundle"],
)
def test_what_is_not_an_in_toto_envelope_gives_no_statement(document: dict[str, Any]) -> None:
    assert statement_of(document) is None


@pytest.mark.parametrize(
    ("image", "flags"),
    [
        ("127.0.0.1:5000/barycenter", ["--allow-http-registry", "--allow-insecure-registry"]),
        ("localhost:5000/barycenter", ["--allow-http-registry", "--allow-insecure-registry"]),
        ("ghcr.io/barycenter-oidc/barycenter", []),
        ("registry.example.com:5000/barycenter", []),
        ("barycenter", []),
    ],
)
def test_plain_http_only_for_a_registry_on_loopback(image: str, flags: list[str]) -> None:
    assert registry_flags(image, 120) == ["--timeout", "120s", *flags]


@pytest.mark.parametrize(
    ("timeout", "flag"), [(1, "1s"), (0.4, "1s"), (90.6, "91s"), (600, "600s")]
)
def test_cosign_is_given_the_registry_timeout_in_whole_seconds(timeout: float, flag: str) -> None:
    assert registry_flags("ghcr.io/o/barycenter", timeout) == ["--timeout", flag]


def test_the_key_hint_is_the_sha256_of_the_der_key() -> None:
    der = b"\x30\x59" + bytes(89)
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + base64.b64encode(der).decode()
        + "\n-----END PUBLIC KEY-----\n"
    )
    assert key_hint(pem) == base64.b64encode(hashlib.sha256(der).digest()).decode()
    with pytest.raises(ReleaseError, match="not PEM"):
        key_hint("-----BEGIN PUBLIC KEY-----\n%%%\n-----END PUBLIC KEY-----")


@pytest.mark.parametrize(
    ("stderr", "said"),
    [
        (
            "WARNING: Skipping tlog verification\nError: no matching attestations: no matching "
            "subject digest found\nerror during command execution: no matching attestations",
            "no matching attestations: no matching subject digest found",
        ),
        ("", "no output"),
        ("error during command execution: boom", "error during command execution: boom"),
    ],
)
def test_cosign_failures_are_told_by_their_last_useful_line(stderr: str, said: str) -> None:
    assert last_words(stderr) == said


def test_statement_json_round_trips() -> None:
    made = statement(provenance(run=RUN, invocation_id=RUN.invocation_id))
    assert json.loads(canonical(made)) == made
