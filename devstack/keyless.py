"""A local stand-in for the keyless signing that GitHub Actions gets from Sigstore, so that
`gh attestation verify` can check a rehearsed attestation exactly as a consumer checks a real
one (`--bundle` and `--custom-trusted-root`, both offline).

What it stands for:
- Fulcio: a certificate authority ("Barycenter Rehearsal CA") issuing a short-lived signing
  certificate whose subjectAltName is the workflow identity and whose extensions carry GitHub
  Actions' OIDC claims (Fulcio's OIDs 1.3.6.1.4.1.57264.1.*: issuer, repository, ref, commit,
  runner environment, ...), as Fulcio issues them from a job's OIDC token;
- a timestamp authority (RFC 3161, with `openssl ts`), whose signed time corroborates that the
  signature was made while the certificate was valid; with a custom trusted root gh requires
  such an observer timestamp (or a transparency log entry).
What it does not emulate: the OIDC token exchange itself (the claims are written from the
rehearsal's own facts, not proven by a token), Rekor (no transparency log: the trusted root
lists none, so gh asks for none), certificate transparency, and GitHub's attestation API.

The keys live in the folder given (mode 0600) and sign nothing outside a rehearsal; the
trusted root names only this CA and TSA, so nothing they sign verifies against the public
good or GitHub roots, nor the other way round. openssl does the cryptography.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from release.attestation import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    GitHubRun,
    Provenance,
    canonical,
    github_run,
    pae,
    predicate,
)
from release.errors import ReleaseError

# Set by a rehearsal that signs keyless (the user has no cosign): the folder of its CA and TSA,
# where the attest-build-provenance stand-in under act signs the archives as the real action
# does in GitHub Actions.
SIGSTORE_VARIABLE = "BARYCENTER_REHEARSAL_SIGSTORE"
ORGANIZATION = "Barycenter Rehearsal"
ISSUER = "https://token.actions.githubusercontent.com"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
ROOT_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
# Fulcio's extensions (github.com/sigstore/fulcio/docs/oid-info.md), v2: DER UTF8Strings.
OIDS = {
    "issuer": "1.3.6.1.4.1.57264.1.8",
    "build_signer_uri": "1.3.6.1.4.1.57264.1.9",
    "runner_environment": "1.3.6.1.4.1.57264.1.11",
    "source_repository_uri": "1.3.6.1.4.1.57264.1.12",
    "source_repository_digest": "1.3.6.1.4.1.57264.1.13",
    "source_repository_ref": "1.3.6.1.4.1.57264.1.14",
    "source_repository_owner_uri": "1.3.6.1.4.1.57264.1.16",
    "build_config_uri": "1.3.6.1.4.1.57264.1.18",
    "build_config_digest": "1.3.6.1.4.1.57264.1.19",
    "build_trigger": "1.3.6.1.4.1.57264.1.20",
    "run_invocation_uri": "1.3.6.1.4.1.57264.1.21",
}
# The legacy issuer extension holds the raw string, not a DER value.
LEGACY_ISSUER = "1.3.6.1.4.1.57264.1.1"


class KeylessError(Exception):
    """openssl is missing or refused."""


@dataclass(frozen=True)
class WorkflowIdentity:
    """The claims of a GitHub Actions job that a Fulcio certificate carries."""

    server: str  # https://github.com
    repository: str  # owner/name
    workflow_path: str  # .github/workflows/release.yml
    ref: str  # refs/tags/vX
    commit: str
    run_id: int = 1

    @property
    def repository_uri(self) -> str:
        return f"{self.server}/{self.repository}"

    @property
    def workflow_uri(self) -> str:
        return f"{self.repository_uri}/{self.workflow_path}@{self.ref}"

    def extensions(self) -> dict[str, str]:
        return {
            "issuer": ISSUER,
            "build_signer_uri": self.workflow_uri,
            "runner_environment": "github-hosted",
            "source_repository_uri": self.repository_uri,
            "source_repository_digest": self.commit,
            "source_repository_ref": self.ref,
            "source_repository_owner_uri": f"{self.server}/{self.repository.partition('/')[0]}",
            "build_config_uri": self.workflow_uri,
            "build_config_digest": self.commit,
            "build_trigger": "push",
            "run_invocation_uri": f"{self.repository_uri}/actions/runs/{self.run_id}/attempts/1",
        }


def openssl(*args: str, cwd: Path, data: bytes | None = None) -> bytes:
    found = shutil.which("openssl")
    if found is None:
        raise KeylessError("openssl is not on PATH: install it (Debian: apt-get install openssl)")
    result = subprocess.run(
        [found, *args], cwd=cwd, input=data, capture_output=True, timeout=60, check=False
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise KeylessError(f"openssl {args[0]} failed: {message[-1] if message else '?'}")
    return result.stdout


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class LocalSigstore:
    """The CA and the TSA, made once in `folder` and kept."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        return self.folder / name

    def ensure(self) -> LocalSigstore:
        if self.path("tsa.pem").exists():
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        old_mask = os.umask(0o077)
        try:
            self.path("openssl.cnf").write_text(self.configuration())
            for name in ("ca", "tsa"):
                openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                        f"{name}.key", cwd=self.folder)  # fmt: skip
            openssl("req", "-x509", "-new", "-key", "ca.key", "-config", "openssl.cnf",
                    "-extensions", "ca_ext", "-subj", f"/O={ORGANIZATION}/CN={ORGANIZATION} CA",
                    "-days", "3650", "-sha256", "-out", "ca.pem", cwd=self.folder)  # fmt: skip
            openssl("req", "-new", "-key", "tsa.key", "-subj",
                    f"/O={ORGANIZATION}/CN={ORGANIZATION} TSA", "-out", "tsa.csr",
                    cwd=self.folder)  # fmt: skip
            openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-CAcreateserial", "-extfile", "openssl.cnf", "-extensions", "tsa_ext",
                    "-days", "3650", "-sha256", "-out", "tsa.pem.partial",
                    cwd=self.folder)  # fmt: skip
            self.path("tsa-serial").write_text("01\n")
        finally:
            os.umask(old_mask)
        self.path("tsa.pem.partial").replace(self.path("tsa.pem"))
        return self

    def configuration(self) -> str:
        folder = self.folder
        return f"""\
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[tsa_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[tsa]
default_tsa = tsa_config
[tsa_config]
serial = {folder}/tsa-serial
crypto_device = builtin
signer_cert = {folder}/tsa.pem
certs = {folder}/ca.pem
signer_key = {folder}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.57264.2
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

    def der(self, name: str) -> bytes:
        return openssl("x509", "-in", name, "-outform", "DER", cwd=self.folder)

    def trusted_root(self) -> Path:
        """The trusted root for `gh attestation verify --custom-trusted-root` (one JSON line)."""
        self.ensure()
        ca, tsa = self.der("ca.pem"), self.der("tsa.pem")
        start = "2000-01-01T00:00:00Z"
        root = {
            "mediaType": ROOT_TYPE,
            "tlogs": [],
            "ctlogs": [],
            "certificateAuthorities": [
                {
                    "subject": {"organization": ORGANIZATION, "commonName": f"{ORGANIZATION} CA"},
                    "uri": "https://fulcio.rehearsal.invalid",
                    "certChain": {"certificates": [{"rawBytes": b64(ca)}]},
                    "validFor": {"start": start},
                }
            ],
            "timestampAuthorities": [
                {
                    "subject": {"organization": ORGANIZATION, "commonName": f"{ORGANIZATION} TSA"},
                    "uri": "https://tsa.rehearsal.invalid",
                    "certChain": {"certificates": [{"rawBytes": b64(tsa)}, {"rawBytes": b64(ca)}]},
                    "validFor": {"start": start},
                }
            ],
        }
        path = self.path("trusted_root.jsonl")
        path.write_text(json.dumps(root) + "\n")
        return path

    def certificate_for(self, identity: WorkflowIdentity, work: Path) -> tuple[Path, bytes]:
        """A fresh signing key and a one-day certificate for `identity`, as Fulcio gives a job."""
        work.mkdir(parents=True, exist_ok=True)
        legacy = ISSUER.encode().hex()
        lines = [
            "[leaf_ext]",
            "basicConstraints = critical,CA:FALSE",
            "keyUsage = critical,digitalSignature",
            "extendedKeyUsage = codeSigning",
            "subjectKeyIdentifier = hash",
            "authorityKeyIdentifier = keyid",
            f"subjectAltName = critical,URI:{identity.workflow_uri}",
            f"{LEGACY_ISSUER} = DER:{legacy}",
        ]
        for claim, value in identity.extensions().items():
            lines.append(f"{OIDS[claim]} = ASN1:UTF8String:{value}")
        (work / "leaf.cnf").write_text("\n".join(lines) + "\n")
        old_mask = os.umask(0o077)
        try:
            openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "leaf.key",
                    cwd=work)  # fmt: skip
        finally:
            os.umask(old_mask)
        openssl("req", "-new", "-key", "leaf.key", "-subj", "/", "-config",
                str(self.path("openssl.cnf")), "-out", "leaf.csr", cwd=work)  # fmt: skip
        openssl("x509", "-req", "-in", "leaf.csr", "-CA", str(self.path("ca.pem")), "-CAkey",
                str(self.path("ca.key")), "-CAcreateserial", "-CAserial",
                str(self.path("ca.srl")), "-extfile", "leaf.cnf", "-extensions", "leaf_ext",
                "-days", "1", "-sha256", "-out", "leaf.pem", cwd=work)  # fmt: skip
        return work / "leaf.key", openssl("x509", "-in", "leaf.pem", "-outform", "DER", cwd=work)

    def timestamp(self, signature: bytes, work: Path) -> bytes:
        """The TSA's RFC 3161 response over the signature (what the bundle carries)."""
        (work / "signature.bin").write_bytes(signature)
        openssl("ts", "-query", "-data", "signature.bin", "-sha256", "-cert", "-out",
                "request.tsq", cwd=work)  # fmt: skip
        return openssl("ts", "-reply", "-config", str(self.path("openssl.cnf")), "-queryfile",
                       "request.tsq", cwd=work)  # fmt: skip

    def sign(self, statement: bytes, identity: WorkflowIdentity, work: Path) -> dict[str, object]:
        """A Sigstore bundle (v0.3) of the in-toto statement: a DSSE envelope signed with a
        fresh key, its certificate, and the TSA's timestamp of the signature."""
        self.ensure()
        key, certificate = self.certificate_for(identity, work)
        (work / "pae.bin").write_bytes(pae(PAYLOAD_TYPE, statement))
        signature = openssl("dgst", "-sha256", "-sign", str(key), "pae.bin", cwd=work)
        key.unlink()  # used once, as Fulcio's ephemeral keys are
        return {
            "mediaType": BUNDLE_TYPE,
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(certificate)},
                "tlogEntries": [],
                "timestampVerificationData": {
                    "rfc3161Timestamps": [{"signedTimestamp": b64(self.timestamp(signature, work))}]
                },
            },
            "dsseEnvelope": {
                "payload": b64(statement),
                "payloadType": PAYLOAD_TYPE,
                "signatures": [{"sig": b64(signature)}],
            },
        }


def identity_of(run: GitHubRun, ref: str, commit: str) -> WorkflowIdentity:
    """The job's identity as Fulcio certifies it, from the run's own variables. The repository
    is read from the workflow's ref (OWNER/NAME/.github/workflows/F@REF), as GitHub's token
    names it: act sets GITHUB_REPOSITORY from the clone's remote, a path in the rehearsal."""
    repository, _, workflow = run.workflow_ref.partition("@")[0].partition("/.github/")
    run_id = int(run.run_id) if run.run_id.isdigit() else 1
    return WorkflowIdentity(run.server, repository, f".github/{workflow}", ref, commit, run_id)


def archives_statement(archives: Mapping[str, str], run: GitHubRun, ref: str, commit: str) -> bytes:
    """What actions/attest-build-provenance signs for `subject-path`: an in-toto Statement v1
    naming each file by its sha256, with the SLSA provenance of the workflow run."""
    moment = datetime.now(UTC)
    provenance = Provenance(
        image="",
        index_digest="",
        archives=archives,
        source_url=f"{run.server}/{run.repository}",
        tag=ref.removeprefix("refs/tags/"),
        revision=commit,
        invocation_id=run.invocation_id,
        started_on=moment,
        finished_on=moment,
        run=run,
    )
    return canonical(
        {
            "_type": STATEMENT_TYPE,
            "subject": [
                {"name": name, "digest": {"sha256": digest}}
                for name, digest in sorted(archives.items())
            ],
            "predicateType": PREDICATE_TYPE,
            "predicate": predicate(provenance),
        }
    )


def sign_archives(
    sigstore: LocalSigstore, bundle: Path, archives: Sequence[Path], environ: Mapping[str, str]
) -> None:
    """Sign the archives keyless as the job named by `environ` (GITHUB_*), into `bundle`."""
    run = github_run(environ)
    if run is None:
        raise KeylessError("not in a workflow run (GITHUB_ACTIONS is not true)")
    ref, commit = environ.get("GITHUB_REF", ""), environ.get("GITHUB_SHA", "")
    digests = {}
    for archive in archives:
        with archive.open("rb") as file:
            digests[archive.name] = hashlib.file_digest(file, "sha256").hexdigest()
    identity = identity_of(run, ref, commit)
    statement = archives_statement(
        digests, replace(run, repository=identity.repository), ref, commit
    )
    with tempfile.TemporaryDirectory() as work:
        signed = sigstore.sign(statement, identity, Path(work))
    bundle.write_text(json.dumps(signed) + "\n")


def main(argv: Sequence[str]) -> int:
    """`keyless.py BUNDLE ARCHIVE...`: the attest-build-provenance stand-in's signing."""
    if len(argv) < 2 or not os.environ.get(SIGSTORE_VARIABLE):
        print(f"usage: ${SIGSTORE_VARIABLE}=FOLDER keyless.py BUNDLE ARCHIVE...", file=sys.stderr)
        return 2
    try:
        sign_archives(
            LocalSigstore(Path(os.environ[SIGSTORE_VARIABLE])),
            Path(argv[0]),
            [Path(name) for name in argv[1:]],
            os.environ,
        )
    except (KeylessError, ReleaseError) as error:
        print(f"keyless: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
