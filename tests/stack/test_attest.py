"""The attest step against the local registry and the stack's cosign: a small multi-arch index,
two archives, a generated key; cosign verifies, and refuses a tampered archive, another digest
and another key."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import semver
from python_on_whales import DockerClient

from devstack import packages
from devstack.paths import StackPaths
from release import cosign, registry
from release.attestation import Provenance, canonical, statement, statement_of, subject_digests
from release.config import ReleaseConfig
from release.dist import file_sha256
from release.errors import ReleaseError
from release.git import GitRepo
from release.plan import Plan
from release.provenance import archive_digests, bundle_name, published
from release.runner import problems_of
from release.steps import State
from release.steps.attest import AttestProvenance

REGISTRY = "127.0.0.1:5000"
VERSION = "1.2.0"
TAG = f"v{VERSION}"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test key's password
TINY = """\
FROM scratch
ARG VERSION
LABEL org.opencontainers.image.version="${VERSION}"
COPY marker /marker
"""


def push_tiny_images(docker: DockerClient, image: str, version: str, context: Path) -> None:
    """IMAGE:vVERSION-amd64 and -arm64, FROM scratch: what the index is assembled from."""
    (context / "Dockerfile").write_text(TINY)
    (context / "marker").write_text(f"{version}\n")
    for arch in ("amd64", "arm64"):
        docker.buildx.build(
            context,
            platforms=[f"linux/{arch}"],
            build_args={"VERSION": version},
            tags=[f"{image}:v{version}-{arch}"],
            push=True,
            provenance=False,
            progress=False,
        )


@pytest.fixture(autouse=True)
def stack_cosign(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's cosign (outside PATH), and no ambient key password."""
    monkeypatch.setenv(
        cosign.BINARY_VARIABLE, str(packages.cosign_path(StackPaths.from_environment()))
    )
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass(frozen=True)
class Release:
    plan: Plan
    digest: str
    public_key: Path
    platforms: dict[str, str]  # linux/arm64 -> the digest of its manifest in the index


def make_release(root: Path, image: str, docker: DockerClient) -> Plan:
    """A repository tagged vX, its index in the registry, two archives in dist/, a key pair."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("barycenter\n")
    git(root, "add", "README.md")
    git(root, "-c", "user.name=R", "-c", "user.email=r@example.com", "commit", "-qm", "init")
    git(root, "tag", TAG)
    context = root.parent / "context"
    context.mkdir()
    push_tiny_images(docker, image, VERSION, context)
    registry.create_index([f"{image}:{TAG}"], [f"{image}:{TAG}-amd64", f"{image}:{TAG}-arm64"])
    config = ReleaseConfig(root=root, image=image, source_url="https://github.com/o/barycenter")
    dist = config.dist_path / TAG
    dist.mkdir(parents=True)
    for arch in ("amd64", "arm64"):
        (dist / f"barycenter-{TAG}-linux-{arch}.tar.gz").write_bytes(f"binary {arch}\n".encode())
    cosign.generate_key_pair(root, PASSWORD)
    version = semver.Version.parse(VERSION)
    return Plan(
        repo=GitRepo(root),
        config=config,
        flow="release",
        stages=frozenset({"attest"}),
        version=version,
        tag=TAG,
        previous=None,
        previous_commit=None,
        today=date.today(),
        epoch=int(time.time()),
        revision=git(root, "rev-parse", "HEAD"),
        remote="origin",
        release_branch="main",
        commit_branch="main",
        tag_branch="main",
        commit_message=f"chore(release): {TAG}",
        develop_branch=None,
        image=image,
        platforms=config.platforms,
        image_tags=(TAG,),
        rollback_successors=(),
        dry_run=False,
        sign=False,
    )


@pytest.fixture(scope="module")
def attested(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """The release, attested once by the step (state todo, run, state done)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            cosign.BINARY_VARIABLE, str(packages.cosign_path(StackPaths.from_environment()))
        )
        patch.delenv("GITHUB_ACTIONS", raising=False)
        image = f"{REGISTRY}/barycenter-attest-{uuid.uuid4().hex[:8]}"
        plan = make_release(tmp_path_factory.mktemp("attest") / "repo", image, DockerClient())
        step = AttestProvenance()
        patch.delenv("COSIGN_PASSWORD", raising=False)
        assert problems_of(plan, [step]) == [
            "$COSIGN_PASSWORD is not set: export the attestation key's password in it "
            "(attestation-password-env names another variable)"
        ]
        patch.setenv("COSIGN_PASSWORD", PASSWORD)
        assert problems_of(plan, [step]) == []
        before = step.state(plan)
        assert before.state is State.TODO
        said: list[str] = []
        started = time.monotonic()
        step.run(plan, said.append)
        ran = time.monotonic() - started
        started = time.monotonic()
        after = step.state(plan)
        stated = time.monotonic() - started
        print(f"\nattest run {ran:.2f} s, state {stated:.2f} s")
        found = registry.manifest(f"{image}:{TAG}")
        assert found is not None
        digest = str(found["digest"])
        platforms = {
            platform: str(child["digest"])
            for platform in ("linux/amd64", "linux/arm64")
            if (child := registry.manifest(plan.platform_image(platform))) is not None
        }
        assert said == [
            f"attached the provenance to {image}@{digest} (index)",
            f"attached the provenance to {image}@{platforms['linux/amd64']} (linux/amd64)",
            f"attached the provenance to {image}@{platforms['linux/arm64']} (linux/arm64)",
            f"wrote {plan.dist / bundle_name(TAG)}",
        ]
        assert after.state is State.DONE, after.detail
        assert after.detail == (
            f"{image}@{digest}, its 2 platform manifests and 2 archives verify with cosign.pub"
        )
        return Release(plan, digest, plan.root / "cosign.pub", platforms)


def test_the_image_attestation_verifies_and_names_every_subject(attested: Release) -> None:
    plan = attested.plan
    verified = cosign.verify_attestation(plan.image, attested.digest, attested.public_key)
    print("\n" + verified.report[:1200])
    assert "The signatures were verified against the specified public key" in verified.report
    assert len(verified.envelopes) == 1
    found = statement_of(verified.envelopes[0])
    assert found is not None
    assert found["_type"] == "https://in-toto.io/Statement/v1"
    assert found["predicateType"] == "https://slsa.dev/provenance/v1"
    assert subject_digests(found) == {
        plan.image: attested.digest.removeprefix("sha256:"),
        f"{plan.image} (linux/amd64)": attested.platforms["linux/amd64"].removeprefix("sha256:"),
        f"{plan.image} (linux/arm64)": attested.platforms["linux/arm64"].removeprefix("sha256:"),
        **{name: file_sha256(plan.dist / name) for name in plan.archives},
    }
    definition = found["predicate"]["buildDefinition"]
    assert definition["externalParameters"] == {
        "repository": "https://github.com/o/barycenter",
        "tag": TAG,
        "ref": f"refs/tags/{TAG}",
    }
    assert definition["resolvedDependencies"] == [
        {
            "uri": f"git+https://github.com/o/barycenter@refs/tags/{TAG}",
            "digest": {"gitCommit": plan.revision},
        }
    ]


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_a_platform_digest_verifies_as_the_readme_says(attested: Release, platform: str) -> None:
    """`cosign verify-attestation --key cosign.pub --insecure-ignore-tlog --type slsaprovenance1
    IMAGE@<platform digest>`: what a consumer holding the digest `docker pull --platform` gave
    runs. The same signed statement as on the index."""
    plan = attested.plan
    digest = attested.platforms[platform]
    assert digest != attested.digest
    verified = cosign.verify_attestation(plan.image, digest, attested.public_key)
    assert "The signatures were verified against the specified public key" in verified.report
    on_index = cosign.verify_attestation(plan.image, attested.digest, attested.public_key)
    assert verified.envelopes == on_index.envelopes


def test_each_archive_verifies_against_the_one_bundle(attested: Release) -> None:
    plan = attested.plan
    bundle = plan.dist / bundle_name(TAG)
    assert json.loads(bundle.read_text())["mediaType"] == (
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    )
    for name in plan.archives:
        verified = cosign.verify_blob_attestation(plan.dist / name, bundle, attested.public_key)
        print("\n" + verified.report)
        assert verified.report.endswith("Verified OK")


def test_a_tampered_archive_fails(attested: Release, tmp_path: Path) -> None:
    plan = attested.plan
    original = plan.dist / plan.archives[0]
    tampered = tmp_path / original.name
    tampered.write_bytes(original.read_bytes() + b"\x00")
    with pytest.raises(cosign.VerificationError) as refused:
        cosign.verify_blob_attestation(tampered, plan.dist / bundle_name(TAG), attested.public_key)
    assert "provided artifact digest does not match any digest in statement" in str(refused.value)


def test_another_digest_fails(attested: Release, docker: DockerClient, tmp_path: Path) -> None:
    plan = attested.plan
    other_image = f"{plan.image}-other"
    push_tiny_images(docker, other_image, "9.9.9", tmp_path)
    other = registry.manifest(f"{other_image}:v9.9.9-amd64")
    assert other is not None
    # Nothing attached there: nothing verifies.
    with pytest.raises(cosign.VerificationError, match="no matching attestations"):
        cosign.verify_attestation(other_image, str(other["digest"]), attested.public_key)
    # This release's signed envelope copied onto another image: its subject is not that digest.
    signed = cosign.verify_attestation(plan.image, attested.digest, attested.public_key)
    cosign.attach_attestation(other_image, str(other["digest"]), signed.envelopes[0])
    with pytest.raises(cosign.VerificationError, match="no matching subject digest found"):
        cosign.verify_attestation(other_image, str(other["digest"]), attested.public_key)


def test_another_key_fails(attested: Release, tmp_path: Path) -> None:
    plan = attested.plan
    _, other_public = cosign.generate_key_pair(tmp_path, "another password")
    with pytest.raises(cosign.VerificationError) as refused:
        cosign.verify_attestation(plan.image, attested.digest, other_public)
    print("\n" + str(refused.value))
    assert "no matching attestations" in str(refused.value)
    for name in plan.archives:
        with pytest.raises(cosign.VerificationError, match="do not match threshold, Found: 0"):
            cosign.verify_blob_attestation(
                plan.dist / name, plan.dist / bundle_name(TAG), other_public
            )


def test_a_rerun_rewrites_a_lost_bundle_from_the_attached_statement(attested: Release) -> None:
    plan = attested.plan
    bundle = plan.dist / bundle_name(TAG)
    kept = bundle.read_text()
    bundle.unlink()
    step = AttestProvenance()
    assert step.state(plan).detail == f"{bundle.name} is not in {plan.dist}"
    said: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COSIGN_PASSWORD", PASSWORD)
        step.run(plan, said.append)
    assert said == [
        f"{plan.image} holds a verified provenance already: reusing it",
        f"wrote {bundle}",
    ]
    assert bundle.read_text() == kept
    assert step.state(plan).state is State.DONE
    for digest in (attested.digest, *attested.platforms.values()):
        verified = cosign.verify_attestation(plan.image, digest, attested.public_key)
        assert len(verified.envelopes) == 1  # no second attestation piled up


def test_a_changed_archive_is_attested_again(attested: Release, tmp_path: Path) -> None:
    plan = attested.plan
    archive = plan.dist / plan.archives[1]
    kept = archive.read_bytes()
    step = AttestProvenance()
    try:
        archive.write_bytes(kept + b"rebuilt\n")
        lacking = {"index": attested.digest, **attested.platforms}
        assert step.state(plan).detail == (
            "no attestation covering the index, each platform and the archives verifies with "
            "cosign.pub on "
            + ", ".join(f"{what} {plan.image}@{digest}" for what, digest in lacking.items())
        )
    finally:
        archive.write_bytes(kept)
    assert step.state(plan).state is State.DONE


def test_a_wrong_password_is_one_line_without_the_password(attested: Release) -> None:
    plan = attested.plan
    with pytest.raises(ReleaseError) as refused:
        cosign.sign_statement(b"{}", plan.root / "cosign.key", "not the password")
    assert "\n" not in str(refused.value)
    assert "not the password" not in str(refused.value)
    assert str(refused.value).startswith(f"cosign could not sign with {plan.root / 'cosign.key'}")


def test_keygen_never_overwrites(attested: Release) -> None:
    with pytest.raises(ReleaseError, match="exists already"):
        cosign.generate_key_pair(attested.plan.root, PASSWORD)


def test_keyless_in_actions_without_a_key(attested: Release, tmp_path: Path) -> None:
    config = replace(attested.plan.config, attestation_key="absent/cosign.key")
    plan = replace(attested.plan, config=config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_ACTIONS", "true")
        status = AttestProvenance().state(plan)
        assert problems_of(plan, [AttestProvenance()]) == []
    assert status.state is State.SKIP
    assert status.detail == (
        "in GitHub Actions without absent/cosign.key, the workflow's "
        "actions/attest-build-provenance attests keyless"
    )


def test_keygen_writes_the_configured_pair_and_wants_a_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.barycenter.release]\n"
        'attestation-key = "keys/release.key"\n'
        'attestation-public-key = "keys/release.pub"\n'
        'attestation-password-env = "BARYCENTER_TEST_KEY_PASSWORD"\n'
    )
    monkeypatch.delenv("BARYCENTER_TEST_KEY_PASSWORD", raising=False)
    with pytest.raises(ReleaseError, match=r"^\$BARYCENTER_TEST_KEY_PASSWORD is empty"):
        cosign.keygen(tmp_path)
    monkeypatch.setenv("BARYCENTER_TEST_KEY_PASSWORD", PASSWORD)
    key, public = cosign.keygen(tmp_path)
    assert (key, public) == (tmp_path / "keys/release.key", tmp_path / "keys/release.pub")
    assert key.read_text().startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert key.stat().st_mode & 0o777 == 0o600
    assert PASSWORD not in key.read_text()
    with pytest.raises(ReleaseError, match="exists already"):
        cosign.keygen(tmp_path)


def attach_by_hand(plan: Plan, to: list[str], platforms: dict[str, str]) -> None:
    """A statement of the index, `platforms` and the archives, signed with the release key and
    attached to the digests `to` only: what an earlier attest left behind."""
    image = published(plan)
    assert image is not None
    made = Provenance(
        image=plan.image,
        index_digest=image.index,
        platforms=platforms,
        archives=archive_digests(plan),
        source_url=plan.config.source_url,
        tag=plan.tag,
        revision=git(plan.root, "rev-parse", "HEAD"),
        invocation_id="urn:uuid:00000000-0000-4000-8000-000000000000",
        started_on=datetime.now(UTC),
        finished_on=datetime.now(UTC),
    )
    dsse = cosign.sign_statement(canonical(statement(made)), plan.root / "cosign.key", PASSWORD)
    for digest in to:
        cosign.attach_attestation(plan.image, digest, dsse)


@pytest.mark.parametrize("left_behind", ["the index only", "the index only, by an older attest"])
def test_attest_converges_from_what_an_earlier_run_left(
    tmp_path: Path, docker: DockerClient, monkeypatch: pytest.MonkeyPatch, left_behind: str
) -> None:
    image_name = f"{REGISTRY}/barycenter-attest-{uuid.uuid4().hex[:8]}"
    plan = make_release(tmp_path / "repo", image_name, docker)
    image = published(plan)
    assert image is not None
    older = left_behind.endswith("older attest")
    # An older attest named the index and the archives only; an interrupted one named them all
    # but attached to the index before it stopped.
    attach_by_hand(plan, [image.index], {} if older else dict(image.platforms))
    step = AttestProvenance()
    lacking = {"index": image.index, **image.platforms} if older else dict(image.platforms)
    assert step.state(plan).detail == (
        "no attestation covering the index, each platform and the archives verifies with "
        "cosign.pub on " + ", ".join(f"{what} {image_name}@{d}" for what, d in lacking.items())
    )
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    said: list[str] = []
    step.run(plan, said.append)
    reused = [] if older else [f"{image_name} holds a verified provenance already: reusing it"]
    assert said == [
        *reused,
        *(f"attached the provenance to {image_name}@{d} ({what})" for what, d in lacking.items()),
        f"wrote {plan.dist / bundle_name(TAG)}",
    ]
    assert step.state(plan).state is State.DONE
    on_index = cosign.verify_attestation(image_name, image.index, plan.root / "cosign.pub")
    for digest in image.platforms.values():
        on_platform = cosign.verify_attestation(image_name, digest, plan.root / "cosign.pub")
        # The statement every digest carries is the one the index carries.
        assert on_platform.envelopes[0] in on_index.envelopes
