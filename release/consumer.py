"""`release.verify` as a consumer: what the README tells users to do, done on the release as
GitHub and the registry serve it, each failure said as the consumer would see it.

- Every asset of the GitHub release is downloaded the way a consumer's client does (the asset
  endpoint with `Accept: application/octet-stream`, following GitHub's redirect), and each
  archive is checked against the downloaded SHA256SUMS (what `sha256sum --check SHA256SUMS`
  does, done here so no coreutils is needed).
- The README's consumer commands (COMMANDS, the block the README's "Build provenance" shows;
  tests/test_consumer_commands.py holds the two to each other) run on the downloaded bytes:
  `cosign verify-blob-attestation` of each archive against the downloaded bundle,
  `cosign verify-attestation` of the index digest and of each platform's digest, and
  `docker pull IMAGE@digest` of each platform. To a consumer's words only what this machine
  needs is added: cosign's flags for a plain-HTTP registry on loopback, and the empty trusted
  root the README gives for verifying offline. Without a key file in GitHub Actions the
  provenance is keyless (`gh attestation verify`): the cosign commands do not apply.
- GitHub's latest release (`/releases/latest`) is X exactly when the tag policy gives X
  `latest`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from release.dist import file_sha256, parse_checksums
from release.errors import ReleaseError

if TYPE_CHECKING:
    from release.checklist import Finding
    from release.github import GitHubClient, ReleaseAsset
    from release.plan import Plan

# The consumer's commands, word for word as the README shows them; {image}, {digest}, {tag} and
# {archive} are the README's example values there.
KEYED = ("--key", "cosign.pub", "--insecure-ignore-tlog", "--type", "slsaprovenance1")
CHECKSUMS = ("sha256sum", "--check", "SHA256SUMS")
BLOB = (
    "cosign",
    "verify-blob-attestation",
    *KEYED,
    "--new-bundle-format",
    "--bundle",
    "barycenter-{tag}.provenance.sigstore.json",
    "{archive}",
)
IMAGE = ("cosign", "verify-attestation", *KEYED, "{image}@{digest}")
PULL = ("docker", "pull", "{image}@{digest}")


def fill(template: tuple[str, ...], **values: str) -> tuple[str, ...]:
    return tuple(word.format(**values) for word in template)


def readme_commands(
    image: str, tag: str, archive: str, index: str, platform: str
) -> list[tuple[str, ...]]:
    """The README's consumer block, in its order, for one archive and one platform digest."""
    return [
        CHECKSUMS,
        fill(BLOB, tag=tag, archive=archive),
        fill(IMAGE, image=image, digest=index),
        fill(IMAGE, image=image, digest=platform),
        fill(PULL, image=image, digest=platform),
    ]


def shown(argv: tuple[str, ...]) -> str:
    return " ".join(argv)


def short(digest: str | None) -> str:
    return "nothing" if digest is None else "sha256:" + digest.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class Downloaded:
    folder: Path
    names: tuple[str, ...]


def download_assets(
    client: GitHubClient, assets: list[ReleaseAsset], folder: Path
) -> tuple[Downloaded, list[Finding]]:
    from release.checklist import Finding

    findings, names = [], []
    for asset in assets:
        try:
            content = client.download_asset(asset.id)
        except ReleaseError as error:
            findings.append(Finding(f"download {asset.name}", False, str(error)))
            continue
        (folder / asset.name).write_bytes(content)
        names.append(asset.name)
        if len(content) != asset.size:
            findings.append(
                Finding(
                    f"download {asset.name}",
                    False,
                    f"{len(content)} bytes arrive, GitHub lists {asset.size}",
                )
            )
    return Downloaded(folder, tuple(names)), findings


def checksum_findings(plan: Plan, downloaded: Downloaded) -> list[Finding]:
    """What `sha256sum --check SHA256SUMS` says on the downloaded assets."""
    from release.checklist import Finding

    sums = downloaded.folder / "SHA256SUMS"
    if not sums.is_file():
        return [Finding("consumer: sha256sum", False, "the release has no SHA256SUMS to check")]
    listed = parse_checksums(sums.read_text(errors="replace"))
    findings = []
    for name in plan.archives:
        path = downloaded.folder / name
        if name not in listed:
            problem = f"SHA256SUMS does not list {name}"
        elif not path.is_file():
            problem = f"{name}: No such file or directory"
        else:
            sha = file_sha256(path)
            if sha == listed[name]:
                continue
            problem = (
                f"{name}: FAILED (downloaded {short(sha)}, SHA256SUMS lists {short(listed[name])})"
            )
        findings.append(Finding("consumer: sha256sum", False, problem))
    if not findings:
        findings.append(
            Finding("consumer: sha256sum", True, f"{len(plan.archives)} downloaded archives: OK")
        )
    return findings


def run_cosign(argv: tuple[str, ...], cwd: Path, what: str, extra: list[str]) -> str | None:
    """A consumer's cosign command (argv[0] is "cosign"), run in `cwd` with `extra` flags for
    this machine; None when it passes, else cosign's last words."""
    from release import cosign

    try:
        cosign.run(
            [*argv[1:-1], *extra, argv[-1]],
            what,
            "see the README's Build provenance",
            cwd=cwd,
            error=cosign.VerificationError,
        )
    except ReleaseError as error:
        return error.problem  # "cosign could not verify …" and cosign's last words
    return None


def provenance_commands(
    plan: Plan, downloaded: Downloaded, digests: Mapping[str, str]
) -> list[Finding]:
    """The README's cosign commands, on the downloaded bundle and archives and on every digest."""
    from release import cosign
    from release.checklist import Finding
    from release.provenance import bundle_name, keyless, public_key_path
    from release.registry import is_loopback, registry_host

    if keyless(plan):
        return []
    key = public_key_path(plan)
    if not key.is_file():
        return [Finding("consumer: cosign", False, f"no public key at {key} to hand consumers")]
    shutil.copyfile(key, downloaded.folder / "cosign.pub")
    root = downloaded.folder / "trusted_root.json"
    root.write_text(json.dumps(cosign.EMPTY_TRUSTED_ROOT))
    findings = []
    bundle = bundle_name(plan.tag)
    for archive in plan.archives:
        argv = fill(BLOB, tag=plan.tag, archive=archive)
        if bundle not in downloaded.names or archive not in downloaded.names:
            missing = bundle if bundle not in downloaded.names else archive
            findings.append(
                Finding(f"consumer: {shown(argv)}", False, f"{missing} is not on the release")
            )
            continue
        failed = run_cosign(
            argv, downloaded.folder, f"verify {archive}", ["--trusted-root", root.name]
        )
        findings.append(
            Finding(f"consumer: {shown(argv)}", failed is None, failed or "Verified OK")
        )
    registry = (
        ["--allow-http-registry", "--allow-insecure-registry"]
        if is_loopback(registry_host(plan.image))
        else []
    )
    for what, digest in digests.items():
        argv = fill(IMAGE, image=plan.image, digest=digest)
        failed = run_cosign(argv, downloaded.folder, f"verify {plan.image}@{digest}", registry)
        findings.append(
            Finding(
                f"consumer: {shown(argv)}",
                failed is None,
                failed or f"the {what} verifies with cosign.pub",
            )
        )
    return findings


def pull_findings(plan: Plan, platforms: Mapping[str, str]) -> list[Finding]:
    """`docker pull IMAGE@digest` of each platform's manifest."""
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    from release.checklist import Finding

    findings = []
    for platform, digest in platforms.items():
        argv = fill(PULL, image=plan.image, digest=digest)
        try:
            docker.image.pull(f"{plan.image}@{digest}", quiet=True)
        except DockerException as error:
            last = (str(error.stderr or "").strip().splitlines() or ["no output"])[-1]
            findings.append(Finding(f"consumer: {shown(argv)}", False, last))
            continue
        findings.append(Finding(f"consumer: {shown(argv)}", True, f"pulls {platform}"))
    return findings


def latest_finding(plan: Plan, client: GitHubClient) -> Finding:
    """GitHub's latest release is X exactly when the tag policy gives X `latest`."""
    from release.checklist import Finding

    gets_latest = plan.makes_latest
    latest = client.latest_release()
    found = "no release" if latest is None else latest.tag_name
    is_this = latest is not None and latest.tag_name == plan.tag
    if gets_latest:
        detail = f"GitHub's latest release is {found}" + (
            "" if is_this else f", the tag policy gives {plan.tag} latest"
        )
    else:
        detail = f"GitHub's latest release is {found}" + (
            f", the tag policy does not give {plan.tag} latest" if is_this else ""
        )
    return Finding("consumer: latest release", is_this == gets_latest, detail)


def consumer_checks(plan: Plan, index: Mapping[str, object] | None) -> list[Finding]:
    """The release as a consumer takes it: downloads, the README's commands, latest."""
    from release import github_release
    from release.github_token import token_from_environment
    from release.provenance import published_of

    if token_from_environment() is None:
        return []  # verify's GitHub check names the missing token already
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="barycenter-consumer-") as scratch:
        try:
            with github_release.client(plan) as client:
                release = client.find_release(plan.tag)
                if release is None or release.draft:
                    return findings  # verify's GitHub check names it
                downloaded, findings = download_assets(
                    client, client.assets(release.id), Path(scratch)
                )
                findings.append(latest_finding(plan, client))
        except ReleaseError as error:
            from release.checklist import Finding

            return [*findings, Finding("consumer: GitHub", False, str(error))]
        findings += checksum_findings(plan, downloaded)
        if index is not None:
            image = published_of(index)
            findings += provenance_commands(plan, downloaded, image.digests())
            findings += pull_findings(plan, image.platforms)
    return findings
