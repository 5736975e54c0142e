"""The post-release checklist as checks that read reality: the index, each platform's image
run, the tag policy, the provenance, dist/'s archives and develop. Each check says what it
found; the manual items are reminders."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from release import cosign, registry
from release.archives import archives_status, checksums_status
from release.errors import ReleaseError
from release.github import Release, ReleaseAsset, file_digest
from release.image_tags import floating_candidates
from release.merging import develop_holds_release
from release.oci import child_digests, index_platforms
from release.plan import Plan, tagged_commit

if TYPE_CHECKING:
    from release.provenance import Published

REMINDERS = (
    "update the deployment configurations that pin a Barycenter version",
    "announce the release (discussions, chat, mailing list)",
)


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str


def short(digest: str | None) -> str:
    """`sha256:` and 12 hex digits: enough to tell two digests apart in a message."""
    if digest is None:
        return "nothing"
    return "sha256:" + digest.removeprefix("sha256:")[:12]


def tag_origin_check(plan: Plan, commit: str | None) -> list[Finding]:
    """The tag on the remote, peeled, is the commit the tag names here: a tag moved on origin
    would have CI build and users fetch another commit."""
    remote = plan.repo.remote_state(plan.remote).tags.get(plan.tag)
    if remote == commit:
        return []
    where = "missing" if remote is None else f"on {remote[:12]}"
    return [
        Finding(
            "tag on origin",
            False,
            f"{plan.tag} is {where} on {plan.remote}, on {(commit or 'nothing')[:12]} here",
        )
    ]


def index_checks(plan: Plan) -> tuple[list[Finding], dict[str, object] | None]:
    index = registry.manifest(
        f"{plan.image}:{plan.tag}",
        registry.login_hint(plan.config),
        timeout=plan.config.registry_timeout,
    )
    if index is None:
        return [Finding("index", False, f"{plan.image}:{plan.tag} is not in the registry")], None
    found = index_platforms(index)
    expected = sorted(plan.config.platforms)
    detail = f"{plan.image}@{index['digest']} holds {', '.join(found)}"
    return [Finding("index", found == expected, detail)], index


def run_checks(plan: Plan, commit: str | None) -> list[Finding]:
    """Pull `vX` for each platform and run `barycenter --version`."""
    # Imported here: release.status's glance reads the checklist without docker.
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    findings = []
    expected = f"barycenter {plan.version} (revision {commit})"
    for platform in plan.config.platforms:
        name = f"runs on {platform}"
        try:
            # Pulled quietly first: docker run's own pull progress would land in our output.
            docker.image.pull(f"{plan.image}:{plan.tag}", platform=platform, quiet=True)
            output = docker.run(
                f"{plan.image}:{plan.tag}",
                ["--version"],
                platform=platform,
                remove=True,
                pull="never",
            )
        except DockerException as error:
            last = (str(error.stderr or "").strip().splitlines() or ["no output"])[-1]
            findings.append(Finding(name, False, f"docker run failed: {last}"))
            continue
        text = str(output).strip()
        findings.append(Finding(name, text == expected, f"prints {text!r}"))
    return findings


def tag_checks(plan: Plan, index: dict[str, object]) -> list[Finding]:
    """Every tag the policy gives X points at X's index; `latest` and the floating tags the
    policy does not give X do not."""
    findings = []
    children = child_digests(index)
    policy = plan.image_tags
    for tag in policy:
        current = registry.manifest(f"{plan.image}:{tag}", timeout=plan.config.registry_timeout)
        ok = current is not None and child_digests(current) == children
        where = "missing" if current is None else f"on {short(str(current['digest']))}"
        if not ok:
            where += f", expected {short(str(index['digest']))} ({plan.tag}'s index)"
        findings.append(Finding(f"tag {tag}", ok, where))
    for tag in sorted(set(floating_candidates(plan.version)) - set(policy)):
        current = registry.manifest(f"{plan.image}:{tag}", timeout=plan.config.registry_timeout)
        if current is not None and child_digests(current) == children:
            findings.append(
                Finding(
                    f"tag {tag}",
                    False,
                    f"on {short(str(current['digest']))}, {plan.tag}'s index, which the policy "
                    "does not give it",
                )
            )
    return findings


def provenance_checks(plan: Plan, index: dict[str, object], commit: str | None) -> list[Finding]:
    """The provenance verifies from every digest a consumer may hold (the index and each
    platform's manifest), names them all and the archives, and names the tagged commit."""
    from release.provenance import keyless, public_key_path, published_of

    if keyless(plan):
        return [Finding("provenance", True, "keyless in GitHub Actions: gh attestation verify")]
    if not public_key_path(plan).is_file():
        return [Finding("provenance", False, f"no public key at {public_key_path(plan)}")]
    missing = [name for name in plan.archives if not (plan.dist / name).is_file()]
    if missing:
        # The attestation names the archives by content: without them it cannot be held
        # against anything here. The build is reproducible, so they can be made again.
        return [
            Finding(
                "provenance",
                False,
                f"{plan.dist} lacks {', '.join(missing)}: verify in the clone that built "
                f"{plan.tag}, or rebuild them with invoke release.build --version {plan.version}",
            )
        ]
    image = published_of(index)
    return [
        digest_provenance_check(plan, image, what, commit)
        for what, digest in image.digests().items()
    ]


def digest_provenance_check(plan: Plan, image: Published, what: str, commit: str | None) -> Finding:
    """What `cosign verify-attestation IMAGE@DIGEST` gives a consumer holding this digest."""
    from release.attestation import statement_of
    from release.provenance import expected_subjects, statement_on

    check = "provenance" if what == "index" else f"provenance {what}"
    digest = image.digests()[what]
    try:
        dsse = statement_on(plan, digest, expected_subjects(plan, image))
    except ReleaseError as error:
        return Finding(check, False, str(error))
    if dsse is None:
        return Finding(check, False, attestation_mismatch(plan, image, what))
    text = json.dumps(statement_of(dsse) or {})
    names_commit = commit is not None and commit in text
    return Finding(
        check,
        names_commit,
        "verifies and names " + (commit[:12] if names_commit and commit else "another commit"),
    )


def images_named(plan: Plan, subjects: dict[str, str]) -> str:
    """The subjects of a statement that are not the archives: the images it was made for."""
    names = sorted({short(d) for name, d in subjects.items() if name not in plan.archives})
    return ", ".join(names) or "no image"


def attestation_mismatch(plan: Plan, image: Published, what: str) -> str:
    """Why no attached attestation of IMAGE@DIGEST is this release's: another key's, or
    another subject's (what `cosign verify-attestation` refuses, said as a consumer sees it)."""
    from release.attestation import statement_of, subject_digests
    from release.provenance import expected_subjects, public_key_path

    digest = image.digests()[what]
    held = "the index" if what == "index" else f"the {what} image"
    key = public_key_path(plan)
    try:
        verified = cosign.verify_attestation(plan.image, digest, key, plan.config.registry_timeout)
    except cosign.VerificationError:
        # cosign refuses an envelope of another subject as it refuses another key's; the
        # unverified envelopes say which it is.
        for dsse in cosign.attached_envelopes(plan.image, digest, plan.config.registry_timeout):
            subjects = subject_digests(statement_of(dsse) or {})
            if subjects and digest.removeprefix("sha256:") not in subjects.values():
                named = images_named(plan, subjects)
                return f"the attestation attached names {named}, not {held} {short(digest)}"
        return f"no attestation on {short(digest)} verifies with {key.name}"
    expected = expected_subjects(plan, image)
    for dsse in verified.envelopes:
        subjects = subject_digests(statement_of(dsse) or {})
        for name, sha in expected.items():
            if subjects.get(name) != sha:
                return (
                    f"the attestation on {short(digest)} names {short(subjects.get(name))} "
                    f"for {name}, not {short(sha)}"
                )
    return f"no attestation on {short(digest)} names it"


def github_check(plan: Plan, index_digest: str | None) -> list[Finding]:
    """The release page: published, titled with the tag, every asset whole (size and digest)
    against dist/ and against the sha256 the body lists, and the body's pull line naming the
    index the registry has."""
    from release import github_release
    from release.github_token import token_from_environment

    if token_from_environment() is None:
        return [Finding("GitHub release", False, "GITHUB_TOKEN and GH_TOKEN are unset")]
    try:
        with github_release.client(plan) as client:
            status = github_release.read_state(client, plan)
            found = client.find_release(plan.tag)
            assets = [] if found is None else client.assets(found.id)
    except ReleaseError as error:
        return [Finding("GitHub release", False, str(error))]
    titled = found is not None and found.name == plan.tag
    ok = status.state.value == "done" and titled
    detail = status.detail if titled else f"not titled {plan.tag}; {status.detail}"
    findings = [Finding("GitHub release", ok, detail)]
    if found is not None:
        findings += asset_checks(plan, assets)
        findings += body_checks(plan, found, assets, index_digest)
    return findings


def asset_checks(plan: Plan, assets: list[ReleaseAsset]) -> list[Finding]:
    """Each of dist/'s files for the release against its asset: the bytes users download."""
    findings = []
    on_github = {asset.name: asset for asset in assets}
    for name, path in plan.assets.items():
        asset = on_github.get(name)
        if asset is None:
            findings.append(Finding(f"asset {name}", False, "missing on GitHub"))
            continue
        if not path.is_file():
            findings.append(Finding(f"asset {name}", False, f"on GitHub, not in {plan.dist}"))
            continue
        size, digest = path.stat().st_size, file_digest(path)
        same = asset.state == "uploaded" and asset.size == size
        if asset.digest is not None:
            same = same and asset.digest == digest
        if not same:
            findings.append(
                Finding(
                    f"asset {name}",
                    False,
                    f"dist/ has {short(digest)} ({size} bytes), GitHub has "
                    f"{short(asset.digest)} ({asset.size} bytes, {asset.state})",
                )
            )
    return findings


def body_checks(
    plan: Plan, release: Release, assets: list[ReleaseAsset], index_digest: str | None
) -> list[Finding]:
    """The body records the index digest and each asset's sha256 at release time: an asset, or
    the tag, changed afterwards no longer matches it."""
    from release.dist import parse_checksums

    body = release.body or ""
    findings = []
    pulled = re.search(
        rf"{re.escape(plan.image)}:{re.escape(plan.tag)}@(sha256:[0-9a-f]{{64}})", body
    )
    if pulled is None:
        findings.append(Finding("release body", False, f"names no digest of {plan.image}"))
    elif index_digest is not None and pulled[1] != index_digest:
        findings.append(
            Finding(
                "index",
                False,
                f"{plan.image}:{plan.tag} is on {short(index_digest)}, "
                f"the release body names {short(pulled[1])}",
            )
        )
    listed = parse_checksums(body)
    for asset in assets:
        sha = listed.get(asset.name)
        if sha is None:
            findings.append(
                Finding(
                    "release body",
                    False,
                    f"lists no sha256 for {asset.name} (GitHub has {short(asset.digest)})",
                )
            )
        elif asset.digest is not None and asset.digest != f"sha256:{sha}":
            findings.append(
                Finding(
                    "release body",
                    False,
                    f"lists {short(sha)} for {asset.name}, GitHub has {short(asset.digest)}",
                )
            )
    return findings


def develop_check(plan: Plan, commit: str | None) -> list[Finding]:
    develop = plan.develop_branch
    if develop is None:
        return []
    head = plan.repo.remote_state(plan.remote).heads.get(develop)
    if head is None or commit is None:
        return [Finding("develop", False, f"{plan.remote}/{develop} is missing")]
    # The same reading as the develop-merged step: after a squash or a rebase develop holds the
    # release's content, not the tag's commit.
    holds = develop_holds_release(plan)
    detail = f"{plan.remote}/{develop} " + ("holds" if holds else "lacks") + f" {plan.tag}"
    return [Finding("develop", holds, detail)]


def verify(plan: Plan, thorough: bool = True) -> list[Finding]:
    """The checklist. Not `thorough` (release.status's glance): no image pulled or run, no
    cosign verification, no consumer download; the tag, the index and its tags, dist/, the
    GitHub release and develop only (the attest step's own state covers the provenance)."""
    commit = tagged_commit(plan)
    findings = [Finding("tag", commit is not None, f"{plan.tag} on {commit or 'nothing'}")]
    findings += tag_origin_check(plan, commit)
    found, index = index_checks(plan)
    findings += found
    if index is not None:
        findings += tag_checks(plan, index)
        if thorough:
            findings += run_checks(plan, commit)
            findings += provenance_checks(plan, index, commit)
    archives = archives_status(plan)
    if archives.state.value == "done":
        archives = checksums_status(plan)
    findings.append(
        Finding("archives", archives.state.value == "done", archives.detail or "SHA256SUMS match")
    )
    findings += github_check(plan, None if index is None else str(index["digest"]))
    if thorough:
        from release.consumer import consumer_checks

        findings += consumer_checks(plan, index)
    findings += develop_check(plan, commit)
    return findings


def failures(findings: list[Finding]) -> list[str]:
    return [f"{f.check}: {f.detail}" for f in findings if not f.ok]
