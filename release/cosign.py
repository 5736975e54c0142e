"""cosign, the Sigstore signer, run as a child process: key pairs, DSSE signatures, attestations
attached to images, and their verification offline (keyed, no transparency log).

The statement signed is ours (release/attestation.py: in-toto Statement v1, every subject):
`cosign attest` and `attest-blob` of cosign 2.x wrap a predicate in their own Statement v0.1
with a single subject, so the envelope is made here and cosign signs its DSSE pre-authentication
encoding (`sign-blob`), attaches it to the image (`attach attestation`) and verifies it with the
consumer's own commands (`verify-attestation`, `verify-blob-attestation`).

The key's password reaches cosign only through the child's COSIGN_PASSWORD environment variable:
never argv, never output. Registry credentials are docker's (~/.docker/config.json), which
cosign reads itself. A registry on loopback is plain HTTP; only there are --allow-http-registry
and --allow-insecure-registry passed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import processes
from release.attestation import PAYLOAD_TYPE, envelope, pae
from release.errors import ReleaseError
from release.registry import DEFAULT_TIMEOUT, is_loopback, registry_host

# Where a cosign other than the one on PATH is (the local stack puts one outside PATH).
BINARY_VARIABLE = "BARYCENTER_COSIGN"
SLSA_TYPE = "slsaprovenance1"
KEY_NAME = "cosign.key"
PUBLIC_KEY_NAME = "cosign.pub"
# A trusted root with no authority in it: a keyed verification needs none, and naming one keeps
# cosign from fetching Sigstore's public root over the network (an offline verification).
EMPTY_TRUSTED_ROOT = {"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}
INSTALL_HINT = (
    "install cosign 2.x (https://docs.sigstore.dev/cosign/system_config/installation/), "
    f"or name its path in ${BINARY_VARIABLE}"
)


class VerificationError(ReleaseError):
    """cosign refused a signature: the attestation is absent, tampered with or someone else's."""


def binary(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    named = environ.get(BINARY_VARIABLE, "")
    if named:
        if not Path(named).is_file():
            raise ReleaseError(f"${BINARY_VARIABLE} names {named}, which is no file", INSTALL_HINT)
        return named
    found = shutil.which("cosign")
    if found is None:
        raise ReleaseError("cosign is not installed (not on PATH)", INSTALL_HINT)
    return found


def registry_flags(image: str, timeout: float) -> list[str]:
    """The time cosign may take (registry-timeout; its own default is 3 minutes); plain HTTP
    and unverified TLS for a registry on loopback only."""
    flags = ["--timeout", f"{max(1, round(timeout))}s"]
    if is_loopback(registry_host(image)):
        flags += ["--allow-http-registry", "--allow-insecure-registry"]
    return flags


def json_objects(text: str) -> list[dict[str, Any]]:
    """The JSON objects among `text`'s lines (cosign prints one envelope per line)."""
    found = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


@dataclass(frozen=True)
class Result:
    stdout: str
    stderr: str


def last_words(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("WARNING", "error during command"))]
    return (useful or lines or ["no output"])[-1].removeprefix("Error: ")


def run(
    args: Sequence[str],
    what: str,
    fix: str,
    password: str | None = None,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    error: type[ReleaseError] = ReleaseError,
    registry_timeout: float | None = None,
) -> Result:
    """cosign ARGS; a failure becomes `error` naming cosign's last words and `fix`. A command
    that talks to a registry gets `registry_timeout`: its own --timeout (from registry_flags)
    is not honoured by every subcommand (`attach attestation` waited 10 minutes on a registry
    that never answered), so the process is stopped a little after it."""
    environment = dict(os.environ)
    environment.pop("COSIGN_PASSWORD", None)
    if password is not None:
        environment["COSIGN_PASSWORD"] = password
    try:
        completed = processes.run(
            [binary(), *args],
            stdin=stdin if stdin is not None else b"",
            env=environment,
            cwd=cwd,
            timeout=600 if registry_timeout is None else registry_timeout + 5,
            secrets=[password] if password else [],
            missing_fix=INSTALL_HINT,
        )
    except processes.ProcessTimeoutError:
        if registry_timeout is not None:
            raise unanswered(what, registry_timeout) from None
        raise ReleaseError(f"cosign did not {what} within 10 minutes", fix) from None
    stdout, stderr = completed.out, completed.err
    if completed.returncode != 0 and registry_timeout and "context deadline exceeded" in stderr:
        raise unanswered(what, registry_timeout)
    if completed.returncode != 0:
        raise error(f"cosign could not {what} ({last_words(stderr)})", fix)
    return Result(stdout, stderr)


def unanswered(what: str, timeout: float) -> ReleaseError:
    """A registry that did not answer proves nothing either way: not a verification failure."""
    return ReleaseError(
        f"cosign could not {what}: the registry did not answer within {timeout:g} s",
        "check that it runs (or raise registry-timeout), then run the same command again",
    )


def key_hint(public_key_pem: str) -> str:
    """The public key's id in a Sigstore bundle: base64 of the sha256 of its DER bytes."""
    body = "".join(
        line for line in public_key_pem.strip().splitlines() if not line.startswith("-----")
    )
    try:
        der = base64.b64decode(body, validate=True)
    except ValueError:
        raise ReleaseError("the public key is not PEM", "use the cosign.pub keygen wrote") from None
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def generate_key_pair(directory: Path, password: str) -> tuple[Path, Path]:
    """cosign.key (encrypted with `password`) and cosign.pub in `directory`; never overwrites."""
    key, public = directory / KEY_NAME, directory / PUBLIC_KEY_NAME
    for existing in (key, public):
        if existing.exists():
            raise ReleaseError(
                f"{existing} exists already",
                "keep it, or move it away first: a new key invalidates what it signed",
            )
    directory.mkdir(parents=True, exist_ok=True)
    run(
        ["generate-key-pair"],
        "generate a key pair",
        "check that the directory is writable",
        password=password,
        cwd=directory,
    )
    key.chmod(0o600)
    return key, public


def sign_statement(body: bytes, key: Path, password: str) -> dict[str, Any]:
    """A DSSE envelope of the statement `body`, signed by cosign with `key` (no tlog upload)."""
    result = run(
        ["sign-blob", "--key", str(key), "--tlog-upload=false", "--yes", "-"],
        f"sign with {key}",
        "check the key file and that its password is the one in the environment",
        password=password,
        stdin=pae(PAYLOAD_TYPE, body),
    )
    signature = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    try:
        base64.b64decode(signature, validate=True)
    except ValueError:
        signature = ""
    if not signature:
        raise ReleaseError("cosign sign-blob printed no signature", "run it by hand to see why")
    return envelope(body, signature)


def attach_attestation(
    image: str, digest: str, dsse: Mapping[str, Any], timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Attach the signed envelope to IMAGE@DIGEST (cosign's .att tag beside it)."""
    with tempfile.TemporaryDirectory(prefix="barycenter-attest-") as scratch:
        path = Path(scratch) / "attestation.json"
        path.write_text(json.dumps(dict(dsse)))
        run(
            [
                "attach",
                "attestation",
                *registry_flags(image, timeout),
                "--attestation",
                str(path),
                f"{image}@{digest}",
            ],
            f"attach the attestation to {image}@{digest}",
            "check your registry login (docker login) and its write permission",
            registry_timeout=timeout,
        )


@dataclass(frozen=True)
class Verified:
    """What cosign verified: the envelopes (signature and subject checked) and its report."""

    envelopes: tuple[dict[str, Any], ...]
    report: str


def verify_attestation(
    image: str, digest: str, public_key: Path, timeout: float = DEFAULT_TIMEOUT
) -> Verified:
    """cosign verify-attestation of IMAGE@DIGEST with `public_key`; VerificationError if none
    verifies (none attached, another key's, another digest's, another predicate type)."""
    result = run(
        [
            "verify-attestation",
            "--key",
            str(public_key),
            "--insecure-ignore-tlog",
            "--type",
            SLSA_TYPE,
            *registry_flags(image, timeout),
            f"{image}@{digest}",
        ],
        f"verify an attestation of {image}@{digest} with {public_key}",
        "attest it (invoke release.attest), or check that this is the release's public key",
        error=VerificationError,
        registry_timeout=timeout,
    )
    envelopes = json_objects(result.stdout)
    return Verified(tuple(envelopes), (result.stderr + result.stdout).strip())


def attachment_tag(digest: str) -> str:
    """The tag cosign attaches IMAGE@DIGEST's attestations under, beside it in its repository."""
    return digest.replace(":", "-") + ".att"


def attached_envelopes(
    image: str, digest: str, timeout: float = DEFAULT_TIMEOUT
) -> list[dict[str, Any]]:
    """The envelopes attached to IMAGE@DIGEST, NOT verified: only to say why none verifies
    (an envelope of another subject), never to trust one. Empty when none can be read."""
    try:
        result = run(
            ["download", "attestation", *registry_flags(image, timeout), f"{image}@{digest}"],
            f"download the attestations of {image}@{digest}",
            "check your registry login (docker login)",
            error=VerificationError,
            registry_timeout=timeout,
        )
    except ReleaseError:
        return []
    return json_objects(result.stdout)


def verify_blob_attestation(blob: Path, bundle: Path, public_key: Path) -> Verified:
    """cosign verify-blob-attestation of `blob` against the Sigstore `bundle`, offline."""
    with tempfile.TemporaryDirectory(prefix="barycenter-verify-") as scratch:
        root = Path(scratch) / "trusted_root.json"
        root.write_text(json.dumps(EMPTY_TRUSTED_ROOT))
        result = run(
            [
                "verify-blob-attestation",
                "--key",
                str(public_key),
                "--bundle",
                str(bundle),
                "--new-bundle-format",
                "--trusted-root",
                str(root),
                "--insecure-ignore-tlog",
                "--type",
                SLSA_TYPE,
                str(blob),
            ],
            f"verify {blob.name} against {bundle.name} with {public_key}",
            "attest it again (invoke release.attest), or check the file and the public key",
            error=VerificationError,
        )
    return Verified((), (result.stderr + result.stdout).strip())


def keygen(root: Path) -> tuple[Path, Path]:
    """`invoke release.keygen`: the configured key pair, its password from the configured
    environment variable (COSIGN_PASSWORD by default); an existing key is never replaced."""
    from release.config import load_config

    config = load_config(root)
    variable = config.attestation_password_env
    password = os.environ.get(variable, "")
    if not password:
        raise ReleaseError(
            f"${variable} is empty",
            f"export the new key's password in ${variable} first (read -s {variable}; export "
            f"{variable})",
        )
    key, public = root / config.attestation_key, root / config.attestation_public_key
    for existing in (key, public):
        if existing.exists():
            raise ReleaseError(
                f"{existing} exists already",
                "keep it, or move it away first: a new key invalidates what it signed",
            )
    with tempfile.TemporaryDirectory(prefix="barycenter-keygen-") as scratch:
        made_key, made_public = generate_key_pair(Path(scratch), password)
        key.parent.mkdir(parents=True, exist_ok=True)
        public.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(made_key, key)
        shutil.move(made_public, public)
    return key, public
