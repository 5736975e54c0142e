"""A self-signed certificate for 127.0.0.1, for the stand-in's TLS front.

The GitHub CLI talks HTTPS only; it trusts this certificate through `SSL_CERT_FILE`. The key
never leaves the folder it is made in (mode 0600), and nothing is added to the system's trust
store."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class CertificateError(Exception):
    """The certificate could not be made."""


@dataclass(frozen=True)
class Certificate:
    certificate: Path
    key: Path


def self_signed(folder: Path, days: int = 7) -> Certificate:
    """A certificate for IP 127.0.0.1 in `folder`, made with openssl once and kept."""
    made = Certificate(folder / "standin-tls.pem", folder / "standin-tls.key")
    if made.certificate.exists() and made.key.exists():
        return made
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError(
            "openssl is not on PATH: install it (Debian: apt-get install openssl)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    partial_key = made.key.with_suffix(".key.partial")
    argv = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-days", str(days), "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", str(partial_key), "-out", str(made.certificate.with_suffix(".pem.partial")),
    ]  # fmt: skip
    old_mask = os.umask(0o077)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    finally:
        os.umask(old_mask)
    if result.returncode != 0:
        raise CertificateError(f"openssl could not make a certificate: {result.stderr.strip()}")
    partial_key.replace(made.key)
    made.certificate.with_suffix(".pem.partial").replace(made.certificate)
    return made
