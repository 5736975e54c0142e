"""`release.verify` after one real release: each way a published release can be tampered with
afterwards is caught, named with what verify expected and what it found, and verify passes
again once the tampering is undone."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.github_standin import Asset, GitHubStandIn, StoredRelease
from release import cosign
from release.attestation import PAYLOAD_TYPE
from tests.gitrepos import git
from tests.release_sandbox import PASSWORD, ReleaseSandbox, make_sandbox, new_token
from tests.test_consumer_commands import (
    EXAMPLE_ARCHIVE,
    EXAMPLE_IMAGE,
    EXAMPLE_TAG,
    readme_consumer_commands,
)

VERSION = "0.2.0"
TAG = f"v{VERSION}"
AMD64 = f"barycenter-{TAG}-linux-amd64.tar.gz"
ARM64 = f"barycenter-{TAG}-linux-arm64.tar.gz"
ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)

Failure = tuple[str, str]
Tamper = Callable[["Released"], AbstractContextManager[list[Failure]]]


def short(digest: str | None) -> str:
    return "nothing" if digest is None else "sha256:" + digest.removeprefix("sha256:")[:12]


def sha256(content: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(content).hexdigest()


class Released:
    """The sandbox after `invoke release`, with what tests need to tamper and put back."""

    def __init__(self, sandbox: ReleaseSandbox) -> None:
        self.sandbox = sandbox
        self.host, _, self.repository = sandbox.image.partition("/")
        self.index_digest = self.manifest(TAG)[2]
        children = json.loads(self.manifest(TAG)[0])["manifests"]
        self.child = {
            f"{m['platform']['os']}/{m['platform']['architecture']}": str(m["digest"])
            for m in children
            if m["platform"]["os"] != "unknown"
        }

    @property
    def dist(self) -> Path:
        return self.sandbox.work / "dist" / TAG

    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        answer = httpx.get(
            f"http://{self.host}/v2/{self.repository}/manifests/{reference}",
            headers={"Accept": ACCEPT},
        )
        answer.raise_for_status()
        return (
            answer.content,
            answer.headers["content-type"],
            answer.headers["docker-content-digest"],
        )

    def put_manifest(self, reference: str, content: bytes, media_type: str) -> None:
        httpx.put(
            f"http://{self.host}/v2/{self.repository}/manifests/{reference}",
            content=content,
            headers={"Content-Type": media_type},
        ).raise_for_status()

    @contextmanager
    def tag_moved(self, reference: str, to: str) -> Iterator[None]:
        """`reference` made to name the manifest `to` names; put back afterwards."""
        saved, media_type, _ = self.manifest(reference)
        content, moved_type, _ = self.manifest(to)
        self.put_manifest(reference, content, moved_type)
        try:
            yield
        finally:
            self.put_manifest(reference, saved, media_type)

    def scratch_digest(self) -> str:
        """A manifest of its own in the repository, holding no attestation: the amd64 image's
        with an annotation added (its blobs are there already)."""
        content, media_type, _ = self.manifest(self.child["linux/amd64"])
        document = json.loads(content)
        document["annotations"] = {"test.scratch": uuid.uuid4().hex}
        scratch = json.dumps(document).encode()
        self.put_manifest(f"scratch-{uuid.uuid4().hex[:8]}", scratch, media_type)
        return sha256(scratch)

    def release(self) -> StoredRelease:
        standin = self.sandbox.standin
        return next(r for r in standin.releases.values() if r.tag_name == TAG)

    def asset(self, name: str) -> Asset:
        return next(a for a in self.release().assets.values() if a.name == name)

    @contextmanager
    def asset_bytes(self, name: str, content: bytes) -> Iterator[None]:
        asset = self.asset(name)
        saved = asset.content
        with self.sandbox.standin.lock:
            asset.content = content
        try:
            yield
        finally:
            with self.sandbox.standin.lock:
                asset.content = saved

    def verify(self) -> tuple[int, list[Failure], str]:
        status, checks, output = self.verify_checks()
        failed = [(c["check"], c["detail"]) for c in checks if not c["ok"]]
        return status, failed, output

    def verify_checks(self) -> tuple[int, list[dict[str, Any]], str]:
        result = self.sandbox.invoke("release.verify", "--version", VERSION, "--format", "json")
        try:
            checks: list[dict[str, Any]] = json.loads(result.stdout)["checks"]
        except ValueError:
            return result.returncode, [], result.stdout + result.stderr
        return result.returncode, checks, result.stdout + result.stderr


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Released]:
    token = new_token()
    with GitHubStandIn("barycenter-oidc/barycenter", token) as standin:
        sandbox = make_sandbox(tmp_path_factory.mktemp("tamper"), standin, token, develop=False)
        result = sandbox.invoke("release", "--version", VERSION)
        assert result.returncode == 0, result.stdout + result.stderr
        yield Released(sandbox)
        assert standin.mismatches == []


# The tampering, each a context manager that yields the failures verify must report


@contextmanager
def image_tag_moved(r: Released) -> Iterator[list[Failure]]:
    arm64 = r.child["linux/arm64"]
    with r.tag_moved(TAG, arm64):
        yield [
            (
                "index",
                f"{r.sandbox.image}:{TAG} is on {short(arm64)}, "
                f"the release body names {short(r.index_digest)}",
            ),
            # arm64's own attestation verifies there, and names the real index, not this one.
            (
                "provenance",
                f"the attestation on {short(arm64)} names {short(r.index_digest)} "
                f"for {r.sandbox.image}, not {short(arm64)}",
            ),
        ]


@contextmanager
def asset_swapped(r: Released) -> Iterator[list[Failure]]:
    amd64, arm64 = (r.dist / AMD64).read_bytes(), (r.dist / ARM64).read_bytes()
    with r.asset_bytes(AMD64, arm64):
        yield [
            (
                f"asset {AMD64}",
                f"dist/ has {short(sha256(amd64))} ({len(amd64)} bytes), "
                f"GitHub has {short(sha256(arm64))} ({len(arm64)} bytes, uploaded)",
            ),
            (
                "release body",
                f"lists {short(sha256(amd64))} for {AMD64}, GitHub has {short(sha256(arm64))}",
            ),
            # What the consumer sees on the bytes they download.
            (
                "consumer: sha256sum",
                f"{AMD64}: FAILED (downloaded {short(sha256(arm64))}, "
                f"SHA256SUMS lists {short(sha256(amd64))})",
            ),
        ]


@contextmanager
def github_latest_is_not_the_release(r: Released) -> Iterator[list[Failure]]:
    standin = r.sandbox.standin
    saved = standin.latest_id
    with standin.lock:
        standin.latest_id = None
    try:
        yield [
            (
                "consumer: latest release",
                f"GitHub's latest release is no release, the tag policy gives {TAG} latest",
            )
        ]
    finally:
        with standin.lock:
            standin.latest_id = saved


@contextmanager
def asset_truncated(r: Released) -> Iterator[list[Failure]]:
    whole = (r.dist / ARM64).read_bytes()
    cut = whole[: len(whole) // 2]
    with r.asset_bytes(ARM64, cut):
        yield [
            (
                f"asset {ARM64}",
                f"dist/ has {short(sha256(whole))} ({len(whole)} bytes), "
                f"GitHub has {short(sha256(cut))} ({len(cut)} bytes, uploaded)",
            ),
            (
                "release body",
                f"lists {short(sha256(whole))} for {ARM64}, GitHub has {short(sha256(cut))}",
            ),
        ]


@contextmanager
def checksums_modified(r: Released) -> Iterator[list[Failure]]:
    path = r.dist / "SHA256SUMS"
    saved = path.read_bytes()
    real = sha256((r.dist / AMD64).read_bytes()).removeprefix("sha256:")
    forged = saved.replace(real.encode(), b"0" * 64)
    assert forged != saved
    path.write_bytes(forged)
    try:
        with r.asset_bytes("SHA256SUMS", forged):
            yield [
                ("archives", f"SHA256SUMS lists {'0' * 12} for {AMD64}, the file is {real[:12]}"),
                (
                    "release body",
                    f"lists {short(sha256(saved))} for SHA256SUMS, "
                    f"GitHub has {short(sha256(forged))}",
                ),
            ]
    finally:
        path.write_bytes(saved)


@contextmanager
def checksums_modified_on_github(r: Released) -> Iterator[list[Failure]]:
    saved = (r.dist / "SHA256SUMS").read_bytes()
    forged = saved.replace(b"linux-arm64", b"linux-arm64.old")
    with r.asset_bytes("SHA256SUMS", forged):
        yield [
            (
                "asset SHA256SUMS",
                f"dist/ has {short(sha256(saved))} ({len(saved)} bytes), "
                f"GitHub has {short(sha256(forged))} ({len(forged)} bytes, uploaded)",
            ),
            (
                "release body",
                f"lists {short(sha256(saved))} for SHA256SUMS, GitHub has {short(sha256(forged))}",
            ),
        ]


def statement(r: Released) -> dict[str, Any]:
    public = r.sandbox.base / "keys" / cosign.PUBLIC_KEY_NAME
    verified = cosign.verify_attestation(r.sandbox.image, r.index_digest, public)
    payload = verified.envelopes[0]["payload"]
    found: dict[str, Any] = json.loads(base64.b64decode(payload))
    return found


@contextmanager
def attestation_replaced(r: Released, dsse: dict[str, Any], on: str) -> Iterator[None]:
    """Attach `dsse` to a scratch manifest (an .att tag of its own), then make the .att tag of
    the digest `on` name that attestation: `on` then carries this attestation alone."""
    via = r.scratch_digest()
    cosign.attach_attestation(r.sandbox.image, via, dsse)
    with r.tag_moved(on.replace(":", "-") + ".att", via.replace(":", "-") + ".att"):
        yield


@contextmanager
def attestation_for_another_digest(r: Released) -> Iterator[list[Failure]]:
    arm64 = r.child["linux/arm64"]
    found = statement(r)
    for subject in found["subject"]:
        if subject["digest"]["sha256"] == r.index_digest.removeprefix("sha256:"):
            subject["digest"]["sha256"] = arm64.removeprefix("sha256:")
    key = r.sandbox.base / "keys" / cosign.KEY_NAME
    dsse = cosign.sign_statement(json.dumps(found).encode(), key, PASSWORD)
    assert dsse["payloadType"] == PAYLOAD_TYPE
    named = ", ".join(sorted({short(arm64), short(r.child["linux/amd64"])}))
    with attestation_replaced(r, dsse, r.index_digest):
        yield [
            (
                "provenance",
                f"the attestation attached names {named}, not the index {short(r.index_digest)}",
            )
        ]


@contextmanager
def platform_given_another_platforms_statement(r: Released) -> Iterator[list[Failure]]:
    """amd64's manifest carries a statement of arm64 alone, signed with the release key: what
    `cosign verify-attestation IMAGE@<amd64 digest>` must refuse."""
    amd64, arm64 = r.child["linux/amd64"], r.child["linux/arm64"]
    found = statement(r)
    found["subject"] = [
        s for s in found["subject"] if s["name"] in (f"{r.sandbox.image} (linux/arm64)", ARM64)
    ]
    assert len(found["subject"]) == 2
    key = r.sandbox.base / "keys" / cosign.KEY_NAME
    dsse = cosign.sign_statement(json.dumps(found).encode(), key, PASSWORD)
    with attestation_replaced(r, dsse, amd64):
        yield [
            (
                "provenance linux/amd64",
                f"the attestation attached names {short(arm64)}, "
                f"not the linux/amd64 image {short(amd64)}",
            )
        ]


@contextmanager
def attestation_with_another_key(r: Released) -> Iterator[list[Failure]]:
    other = r.sandbox.base / "other-key"
    if not other.is_dir():
        cosign.generate_key_pair(other, PASSWORD)
    dsse = cosign.sign_statement(
        json.dumps(statement(r)).encode(), other / cosign.KEY_NAME, PASSWORD
    )
    with attestation_replaced(r, dsse, r.index_digest):
        yield [
            ("provenance", f"no attestation on {short(r.index_digest)} verifies with cosign.pub")
        ]


@contextmanager
def body_lost_a_checksum(r: Released) -> Iterator[list[Failure]]:
    release = r.release()
    saved = release.body or ""
    line = next(line for line in saved.splitlines() if line.endswith(f"  {AMD64}"))
    with r.sandbox.standin.lock:
        release.body = saved.replace(line + "\n", "")
    try:
        yield [
            (
                "release body",
                f"lists no sha256 for {AMD64} (GitHub has {short(r.asset(AMD64).digest)})",
            )
        ]
    finally:
        with r.sandbox.standin.lock:
            release.body = saved


@contextmanager
def floating_tag_left_behind(r: Released) -> Iterator[list[Failure]]:
    amd64 = r.child["linux/amd64"]
    with r.tag_moved("0.2", amd64):
        yield [("tag 0.2", f"on {short(amd64)}, expected {short(r.index_digest)} ({TAG}'s index)")]


@contextmanager
def latest_left_on_another_image(r: Released) -> Iterator[list[Failure]]:
    arm64 = r.child["linux/arm64"]
    with r.tag_moved("latest", arm64):
        yield [
            ("tag latest", f"on {short(arm64)}, expected {short(r.index_digest)} ({TAG}'s index)")
        ]


@contextmanager
def dist_archives_swapped(r: Released) -> Iterator[list[Failure]]:
    amd64, arm64 = (r.dist / AMD64).read_bytes(), (r.dist / ARM64).read_bytes()
    (r.dist / AMD64).write_bytes(arm64)
    (r.dist / ARM64).write_bytes(amd64)
    try:
        yield [
            (
                f"asset {AMD64}",
                f"dist/ has {short(sha256(arm64))} ({len(arm64)} bytes), "
                f"GitHub has {short(sha256(amd64))} ({len(amd64)} bytes, uploaded)",
            ),
            (
                f"asset {ARM64}",
                f"dist/ has {short(sha256(amd64))} ({len(amd64)} bytes), "
                f"GitHub has {short(sha256(arm64))} ({len(arm64)} bytes, uploaded)",
            ),
        ]
    finally:
        (r.dist / AMD64).write_bytes(amd64)
        (r.dist / ARM64).write_bytes(arm64)


@contextmanager
def git_tag_moved_on_origin(r: Released) -> Iterator[list[Failure]]:
    work = r.sandbox.work
    tagged = git(work, "rev-parse", f"{TAG}^{{commit}}")
    tag_object = git(work, "rev-parse", TAG)
    other = git(work, "rev-parse", f"{tagged}~1")
    git(work, "push", "-q", "--force", "origin", f"{other}:refs/tags/{TAG}")
    try:
        yield [("tag on origin", f"{TAG} is on {other[:12]} on origin, on {tagged[:12]} here")]
    finally:
        git(work, "push", "-q", "--force", "origin", f"{tag_object}:refs/tags/{TAG}")


CASES: dict[str, Tamper] = {
    "image tag moved to another digest": image_tag_moved,
    "release asset swapped for another archive": asset_swapped,
    "release asset truncated": asset_truncated,
    "GitHub's latest release is not the release": github_latest_is_not_the_release,
    "SHA256SUMS modified on GitHub and in dist": checksums_modified,
    "SHA256SUMS modified on GitHub only": checksums_modified_on_github,
    "attestation made for another digest": attestation_for_another_digest,
    "attestation signed with another key": attestation_with_another_key,
    "a platform given another platform's statement": platform_given_another_platforms_statement,
    "release body lost an asset's checksum": body_lost_a_checksum,
    "floating tag left on another image": floating_tag_left_behind,
    "latest left on another image": latest_left_on_another_image,
    "dist archives swapped locally": dist_archives_swapped,
    "git tag moved on origin": git_tag_moved_on_origin,
}


def test_verify_passes_on_the_untouched_release(released: Released) -> None:
    status, checks, output = released.verify_checks()
    assert status == 0, output
    assert [c for c in checks if not c["ok"]] == [], output
    # The provenance is checked from every digest a consumer may hold.
    names = {c["check"] for c in checks}
    assert {"provenance", "provenance linux/amd64", "provenance linux/arm64"} <= names


def readme_commands_for(r: Released) -> list[tuple[str, ...]]:
    """The README's consumer block with this release's values: each archive, each platform."""
    commands: list[tuple[str, ...]] = []
    for arch in ("amd64", "arm64"):
        values = {
            EXAMPLE_ARCHIVE: f"barycenter-{TAG}-linux-{arch}.tar.gz",
            EXAMPLE_IMAGE: r.sandbox.image,
            EXAMPLE_TAG: TAG,
            "sha256:INDEX-DIGEST": r.index_digest,
            "sha256:PLATFORM-DIGEST": r.child[f"linux/{arch}"],
        }
        for command in readme_consumer_commands():
            filled = []
            for word in command:
                for example, real in values.items():
                    word = word.replace(example, real)
                filled.append(word)
            if tuple(filled) not in commands:
                commands.append(tuple(filled))
    return commands


def test_verify_runs_the_readme_consumer_commands(released: Released) -> None:
    status, checks, output = released.verify_checks()
    assert status == 0, output
    ran = {c["check"]: c for c in checks if c["check"].startswith("consumer: ")}
    expected = {
        "consumer: " + ("sha256sum" if command[0] == "sha256sum" else " ".join(command))
        for command in readme_commands_for(released)
    }
    assert set(ran) == expected | {"consumer: latest release"}
    assert all(c["ok"] for c in ran.values()), ran
    assert ran["consumer: latest release"]["detail"] == f"GitHub's latest release is {TAG}"


def test_the_readme_consumer_commands_pass_on_the_downloaded_release(
    released: Released, tmp_path: Path
) -> None:
    """What a consumer types, run here: the assets downloaded by browser_download_url (302 to
    the bytes), then each README command, with cosign's flags for a registry on loopback and
    the README's offline trusted root added."""
    release = released.release()
    for asset in release.assets.values():
        url = released.sandbox.standin.asset_json(release, asset)["browser_download_url"]
        answer = httpx.get(url, follow_redirects=True)
        assert answer.status_code == 200, url
        (tmp_path / asset.name).write_bytes(answer.content)
    (tmp_path / "cosign.pub").write_bytes(
        (released.sandbox.base / "keys" / cosign.PUBLIC_KEY_NAME).read_bytes()
    )
    (tmp_path / "trusted_root.json").write_text(json.dumps(cosign.EMPTY_TRUSTED_ROOT))
    for command in readme_commands_for(released):
        argv = list(command)
        if argv[0] == "cosign":
            argv[0] = cosign.binary()
            local = ["--allow-http-registry", "--allow-insecure-registry"]
            if argv[1] == "verify-blob-attestation":
                local = ["--trusted-root", "trusted_root.json"]
            argv[-1:-1] = local
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(command)}: {done.stderr}"
        print(f"$ {' '.join(command)}\n{(done.stdout + done.stderr).strip()[-300:]}")


@pytest.mark.parametrize("case", list(CASES))
def test_verify_names_the_tampering_and_passes_once_undone(released: Released, case: str) -> None:
    with CASES[case](released) as expected:
        status, failed, output = released.verify()
        assert status != 0, output
        for failure in expected:
            assert failure in failed, f"{failure} not among {failed}"
    status, failed, output = released.verify()
    assert (status, failed) == (0, []), output
