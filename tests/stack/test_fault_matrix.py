"""The fault matrix of the tagged part of a release (build, binaries, publish, attest, github,
verify): a fault injected at each point, then the same `invoke release --version X` again must
reach the end state of an uninterrupted release of the same tagged commit: the same index and
per-platform digests, the same tags, one GitHub release with each asset once and the same
archive bytes, and `release.verify` passing.

One origin holds the tag. The reference clone releases it without a fault; each fault clone
releases the same tag into its own repository on a registry of our own (behind a proxy that
breaks on demand) and its own GitHub stand-in. The builds are reproducible and share the build
cache, so only the first build of each platform compiles. Within a clone the faults form a
chain in pipeline order: each run breaks at the next point, so it is also the rerun that must
get past the previous one; a last plain run must then converge."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack import engine, lifecycle, services
from devstack.github_standin import GitHubStandIn
from devstack.paths import StackPaths
from release import registry
from tests.fault_proxy import Fault, FaultyRegistry, Mode
from tests.gitrepos import configure_identity, git
from tests.release_sandbox import PASSWORD, make_sandbox, new_token

VERSION = "0.2.0"
TAG = f"v{VERSION}"
REPORT = os.environ.get("FAULT_MATRIX_REPORT")


def manifest_put(tag: str) -> re.Pattern[str]:
    return re.compile(rf"/manifests/{re.escape(tag)}$")


ATTESTATION = re.compile(r"/manifests/sha256-[0-9a-f]{64}\.att$")
PLATFORM_IMAGE = re.compile(rf"/manifests/{re.escape(TAG)}-(amd64|arm64)$")
# Every push of the tagged part, in the order a release makes them: (point, pattern, nth match).
# The platforms build concurrently, so which image is pushed first varies from run to run.
PUSHES: list[tuple[str, re.Pattern[str], int]] = [
    ("image of the first platform pushed", PLATFORM_IMAGE, 1),
    ("image of the second platform pushed", PLATFORM_IMAGE, 2),
    ("index (tag vX)", manifest_put(TAG), 1),
    ("tag latest", manifest_put("latest"), 1),
    ("floating tag X.Y", manifest_put("0.2"), 1),
    ("floating tag X", manifest_put("0"), 1),
    ("attestation", ATTESTATION, 1),
]


@dataclass
class Clone:
    name: str
    work: Path
    overrides: Path
    image: str
    standin: GitHubStandIn
    token: str

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "COSIGN_PASSWORD": PASSWORD,
            "GITHUB_TOKEN": self.token,
            "BARYCENTER_RELEASE_CONFIG": str(self.overrides),
        }

    def argv(self, *args: str) -> list[str]:
        root = Path(__file__).resolve().parents[2]
        return [sys.executable, "-m", "invoke", "-r", str(root), *args, "--repo", str(self.work)]

    def invoke(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
            env=self.environment(),
        )

    def release(self) -> subprocess.CompletedProcess[str]:
        return self.invoke("release", "--version", VERSION)

    def signalled(self, line_start: str, delay: float, signum: signal.Signals) -> tuple[int, str]:
        """Run the release and send `signum` to its process group `delay` s after a line starts
        with `line_start`, as a terminal's Ctrl-C or a CI runner's cancel does."""
        process = subprocess.Popen(
            self.argv("release", "--version", VERSION),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env=self.environment(),
            # A shell's background job starts with SIGINT ignored, and Python keeps it so.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith(line_start):
                time.sleep(delay)
                os.killpg(process.pid, signum)
                break
        seen.append(process.stdout.read())
        process.wait(timeout=120)
        return process.returncode, "".join(seen)


@dataclass
class EndState:
    """What a release leaves behind. The index digest differs between two builds of the same
    commit: it lists BuildKit's attestation manifests, which hold the build's time and id (see
    release/reproduce.py). So across clones the index's image manifests are compared, digest
    for digest, and within a clone every tag must name its one index."""

    index: str
    platforms: dict[str, str]
    tags: dict[str, str]  # tag -> "index", a platform, or "own" (a platform image with its own
    # BuildKit attestation), so two clones compare
    releases: int
    assets: dict[str, str]

    def compared(self) -> str:
        return (
            f"index {self.index[7:19]}, images "
            + ", ".join(f"{p.split('/')[1]} {d[7:19]}" for p, d in sorted(self.platforms.items()))
            + f", {len(self.tags)} tags, {len(self.assets)} assets"
        )


def upstream_tags(faulty: FaultyRegistry, repository: str) -> list[str]:
    url = f"http://127.0.0.1:{faulty.upstream_port}/v2/{repository}/tags/list"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return sorted(json.loads(answer.read())["tags"] or [])


def pushed_index(world: World, clone: Clone) -> str | None:
    """The digest vX names in the registry itself, read past the (armed) proxy."""
    repository = clone.image.split("/", 1)[1]
    found = registry.manifest(f"127.0.0.1:{world.faulty.upstream_port}/{repository}:{TAG}")
    return None if found is None else str(found["digest"])


def end_state(clone: Clone, faulty: FaultyRegistry) -> EndState:
    index = registry.manifest(f"{clone.image}:{TAG}")
    assert index is not None, f"{clone.image}:{TAG} is missing"
    platforms = {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
        for m in index["manifests"]
        if m.get("platform", {}).get("os") != "unknown"
    }
    names = {digest: platform for platform, digest in platforms.items()}
    tags = {}
    repository = clone.image.split("/", 1)[1]
    for tag in upstream_tags(faulty, repository):
        if tag.endswith((".att", ".sig")):
            # Named after the digest it signs; its content holds a fresh signature each time.
            tags[tag.replace(index["digest"].replace(":", "-"), "INDEX")] = "signature"
            continue
        found = registry.manifest(f"{clone.image}:{tag}")
        assert found is not None
        digest = found["digest"]
        tags[tag] = "index" if digest == index["digest"] else names.get(digest, "own")
    documents = [r for r in clone.standin.releases.values() if r.tag_name == TAG]
    assets: dict[str, str] = {}
    for document in documents:
        for asset in document.assets.values():
            assert asset.name not in assets, f"{asset.name} uploaded twice"
            # Bundles carry a fresh signature each time: equal by name, checked by verify.
            assets[asset.name] = (
                "signed"
                if asset.name.endswith(".sigstore.json")
                else hashlib.sha256(asset.content).hexdigest()
            )
    return EndState(index["digest"], platforms, tags, len(documents), assets)


@dataclass
class World:
    base: Path
    faulty: FaultyRegistry
    reference: Clone
    expected: EndState
    origin: Path
    cache: Path


def overrides_for(world_base: Path, name: str, image: str, standin: GitHubStandIn) -> Path:
    """The reference sandbox's key, this clone's image and stand-in, the shared build cache."""
    reference = (world_base / "reference" / "overrides.toml").read_text().splitlines()
    keys = "".join(line + "\n" for line in reference if line.startswith("attestation-"))
    path = world_base / f"{name}.toml"
    path.write_text(
        f'image = "{image}"\n' + keys + f'github-api-url = "{standin.api_url}"\n'
        f'cache-dir = "{world_base / "build-cache"}"\n'
    )
    return path


def record(fault: str, point: str, converged: bool, detail: str) -> None:
    if REPORT:
        with Path(REPORT).open("a") as report:
            report.write(json.dumps([fault, point, converged, detail]) + "\n")


@pytest.fixture(scope="session")  # the engine-restart case runs last in this file
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("faults")
    faulty = FaultyRegistry(base / "registry")
    faulty.start()
    token = new_token()
    try:
        with GitHubStandIn("barycenter-oidc/barycenter", token) as standin:
            (base / "reference").mkdir()
            sandbox = make_sandbox(base / "reference", standin, token, develop=False)
            # The scratch clone is on whatever branch this checkout is on; releases are from main.
            git(sandbox.work, "fetch", "-q", "origin")
            git(sandbox.work, "switch", "-q", "-C", "main", "origin/main")
            image = f"{faulty.address}/barycenter-reference"
            overrides = overrides_for(base, "reference", image, standin)
            reference = Clone("reference", sandbox.work, overrides, image, standin, token)
            for task in ("release.prepare", "release.tag"):
                made = reference.invoke(task, "--version", VERSION)
                assert made.returncode == 0, made.stdout + made.stderr
            first = reference.release()
            assert first.returncode == 0, first.stdout + first.stderr
            verified = reference.invoke("release.verify", "--version", VERSION)
            assert verified.returncode == 0, verified.stdout + verified.stderr
            expected = end_state(reference, faulty)
            yield World(base, faulty, reference, expected, sandbox.origin, base / "build-cache")
            assert standin.mismatches == []
    finally:
        faulty.close()


@pytest.fixture
def clone(world: World, request: pytest.FixtureRequest) -> Iterator[Clone]:
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[-40:]
    token = new_token()
    with GitHubStandIn("barycenter-oidc/barycenter", token) as standin:
        work = world.base / name
        git(world.base, "clone", "-q", str(world.origin), str(work))
        configure_identity(work)
        image = f"{world.faulty.address}/barycenter-{name}"
        yield Clone(
            name, work, overrides_for(world.base, name, image, standin), image, standin, token
        )
        assert standin.mismatches == []


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    # Before it, only indented progress lines (GitHub's retries say what they wait for).
    assert [line for line in lines if not line.startswith("  ")] == lines[-1:], result.stderr
    assert lines[-1].startswith("error: "), result.stderr
    return lines[-1]


def converges(world: World, clone: Clone) -> EndState:
    world.faulty.arm(None)
    rerun = clone.release()
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    verified = clone.invoke("release.verify", "--version", VERSION)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    state = end_state(clone, world.faulty)
    assert state.platforms == world.expected.platforms
    assert state.tags == world.expected.tags
    assert state.releases == 1
    assert state.assets == world.expected.assets
    return state


def test_the_reference_release_pushes_every_point_of_the_matrix(world: World) -> None:
    puts = [entry.split(" ", 1)[1] for entry in world.faulty.log if entry.startswith("PUT ")]
    for point, pattern, nth in PUSHES:
        assert sum(1 for path in puts if pattern.search(path)) >= nth, (point, puts)
    assert world.expected.releases == 1
    assert set(world.expected.platforms) == {"linux/amd64", "linux/arm64"}
    assert {"v0.2.0", "latest", "0.2", "0"} <= {
        tag for tag, names in world.expected.tags.items() if names == "index"
    }
    assert world.expected.tags["INDEX.att"] == "signature"
    record("none (reference)", "whole tagged part", True, world.expected.compared())


# tests/test_github_release.py puts every fault, passing and lasting, at every call of the
# github step; within a whole release each kind is put, lasting, at one call (a lasting fault
# costs 15 s of backoff), each at a different one.
GITHUB_CALLS = {
    "GitHub connection dropped": ["repos/upload-release-asset"],
    "GitHub 502": ["repos/create-release"],
    "GitHub 403 secondary rate limit": ["repos/update-release"],
}


def break_github(standin: GitHubStandIn, kind: str, operation: str) -> None:
    if kind == "GitHub 502":
        standin.server_error(operation, None, status=502)
    elif kind == "GitHub 403 secondary rate limit":
        standin.rate_limit(operation, None, retry_after=0, status=403)
    else:
        standin.drop(operation, None)


@pytest.mark.parametrize(
    ("mode", "github_fault"),
    [("reset", "GitHub connection dropped"), ("500", "GitHub 502")],
    ids=["reset", "500"],
)
def test_the_registry_then_github_failing_at_each_call_then_a_rerun_converges(
    world: World, clone: Clone, mode: Mode, github_fault: str
) -> None:
    fault_name = {"reset": "registry stopped (reset)", "500": "registry answers 500"}[mode]
    failed_at = []
    first_index = None
    for point, pattern, nth in PUSHES:
        world.faulty.arm(Fault("PUT", pattern, mode, nth))
        result = clone.release()
        failed_at.append((fault_name, point, one_line_failure(result)))
        assert world.faulty.fault is not None and world.faulty.fault.tripped, point
        first_index = first_index or pushed_index(world, clone)
    world.faulty.arm(None)
    for operation in GITHUB_CALLS[github_fault]:
        clone.standin.clear_faults()
        break_github(clone.standin, github_fault, operation)
        result = clone.release()
        failed_at.append((github_fault, operation, one_line_failure(result)))
        assert clone.standin.calls_to(operation), operation
    clone.standin.clear_faults()
    state = converges(world, clone)
    # The index the first broken run pushed is the one every rerun kept and tagged.
    assert first_index is not None and state.index == first_index
    for fault, point, error in failed_at:
        record(fault, point, True, f"{error[:90]} | {state.compared()}")


# A registry that accepts a request and never answers it, at a push made by each client the
# release reaches the registry through: its own HTTP client (the platform images, the index),
# cosign (the attestation). Whether every later request goes unanswered too (`lasting`): not
# at the platform images, which push concurrently. There the other platform's next request,
# held a few milliseconds after the first image's push, would time out in the same moment, and
# which of the two is reported first would be a race (CI once saw "did not answer HEAD").
UNANSWERED: list[tuple[str, re.Pattern[str], bool, str]] = [
    ("image of the first platform pushed", PLATFORM_IMAGE, False, "did not answer PUT"),
    ("index (tag vX)", manifest_put(TAG), True, "did not answer PUT"),
    ("attestation", ATTESTATION, True, "could not attach the attestation"),
]
REGISTRY_TIMEOUT = 10


def processes_naming(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if entry.name.isdigit() and text in command:
            found.append(command)
    return found


def test_a_registry_that_never_answers_stops_each_client_in_time_then_a_slow_one_is_waited_for(
    world: World, clone: Clone
) -> None:
    with clone.overrides.open("a") as overrides:
        overrides.write(f"registry-timeout = {REGISTRY_TIMEOUT}\n")
    failed_at = []
    first_index = None
    for point, pattern, lasting, words in UNANSWERED:
        world.faulty.arm(Fault("PUT", pattern, "slow", delay=3600, lasting=lasting))
        started = time.monotonic()
        error = one_line_failure(clone.release())
        waited = time.monotonic() - started
        assert world.faulty.fault is not None and world.faulty.fault.tripped, point
        assert words in error, error
        assert "did not answer" in error and f"within {REGISTRY_TIMEOUT} s" in error, error
        assert "run the same command again" in error, error
        world.faulty.arm(None)  # the held requests are reset, never answered
        # Stopped, not left behind: no buildx or cosign still waits on the registry.
        assert processes_naming(clone.image) == [], point
        failed_at.append((point, error, waited))
        first_index = first_index or pushed_index(world, clone)
    # Slow but within the timeout: every manifest read answered 1 s late, the run waits for it.
    world.faulty.arm(Fault("GET", re.compile(r"/manifests/"), "slow", delay=1, lasting=False))
    slow = clone.release()
    assert slow.returncode == 0, slow.stdout + slow.stderr
    assert world.faulty.fault is not None and world.faulty.fault.seen > 0
    state = converges(world, clone)
    assert first_index is not None and state.index == first_index
    for point, error, waited in failed_at:
        detail = f"stopped after {waited:.0f} s: {error[:80]} | {state.compared()}"
        record("registry never answers", point, True, detail)
    record("registry answers 1 s late", "every manifest read", True, state.compared())


def test_the_registry_process_stopped_mid_publish_then_github_rate_limited_then_a_rerun_converges(
    world: World, clone: Clone
) -> None:
    world.faulty.arm(Fault("PUT", manifest_put("latest"), "stop"))
    error = one_line_failure(clone.release())
    assert "does not answer" in error or "registry" in error, error
    assert world.faulty.process is not None and world.faulty.process.poll() is not None
    world.faulty.arm(None)  # starts the registry again on its storage
    failed_at = [("registry process stopped", "tag latest", error)]
    rate_limit = "GitHub 403 secondary rate limit"
    for operation in GITHUB_CALLS[rate_limit]:
        clone.standin.clear_faults()
        break_github(clone.standin, rate_limit, operation)
        failed_at.append((rate_limit, operation, one_line_failure(clone.release())))
    clone.standin.clear_faults()
    state = converges(world, clone)
    for fault, point, line in failed_at:
        record(fault, point, True, f"{line[:90]} | {state.compared()}")


# Each step of the tagged part, interrupted as it starts (the boundary after the previous step)
# and partway in (delays inside each step's measured run time on the stack). Both signals take
# the same path in release/ (SIGTERM is raised as a KeyboardInterrupt subclass), so each point
# gets one of them, alternating, which halves the runs; each signal still hits every step.
SIGNAL_POINTS: dict[str, list[tuple[str, float]]] = {
    "SIGINT": [
        ("build", 0.0),
        ("binaries", 0.5),
        ("publish", 0.0),
        ("attest", 0.5),
        ("github", 0.0),
        ("verify", 0.5),
    ],
    "SIGTERM": [
        ("build", 2.0),
        ("binaries", 0.0),
        ("publish", 1.0),
        ("attest", 0.0),
        ("github", 0.2),
        ("verify", 0.0),
    ],
}


@pytest.mark.parametrize(("name", "status"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_at_step_boundaries_and_inside_steps_stops_in_one_line_then_a_rerun_converges(
    world: World, clone: Clone, name: str, status: int
) -> None:
    outcomes = []
    for step, delay in SIGNAL_POINTS[name]:
        code, output = clone.signalled(f"- {step}:", delay, signal.Signals[name])
        assert "Traceback" not in output, output
        last = [line for line in output.splitlines() if line.strip()][-1]
        if code == 0:
            # The step (and the run) finished before the signal: nothing was interrupted.
            outcomes.append((step, delay, "finished first"))
            continue
        assert code == status, output
        assert last.startswith("error: interrupted") and "run the same command again" in last
        outcomes.append((step, delay, last))
    interrupted = [o for o in outcomes if o[2] != "finished first"]
    assert len(interrupted) >= len(outcomes) - 1, outcomes
    state = converges(world, clone)
    for step, delay, outcome in outcomes:
        point = f"{step} {'boundary' if delay == 0 else f'inside (+{delay} s)'}"
        record(name, point, outcome != "finished first", f"{outcome[:90]} | {state.compared()}")


@pytest.fixture
def small_dist(clone: Clone) -> Iterator[Path]:
    """dist/ on a 200 kB tmpfs: the build's logs fit, the two archives do not."""
    dist = clone.work / "dist"
    dist.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(dist)], check=True)
    try:
        yield dist
    finally:
        subprocess.run(["umount", str(dist)], check=True)


def test_a_full_disk_under_dist_fails_in_one_line_counts_nothing_half_written_and_a_rerun_converges(
    world: World, clone: Clone, small_dist: Path
) -> None:
    error = one_line_failure(clone.release())
    assert "disk" in error and "full" in error, error
    archives = sorted(p.name for p in (small_dist / TAG).glob("*.tar.gz"))
    assert len(archives) < 2, archives
    assert not list((small_dist / TAG).glob(".*.partial"))
    states = json.loads(
        clone.invoke("release.status", "--version", VERSION, "--format", "json").stdout
    )
    assert {row["step"]: row["state"] for row in states["steps"]}["binaries"] == "to do"
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_dist)], check=True)
    state = converges(world, clone)
    record(
        "disk full under dist/", "binaries (archives)", True, f"{error[:90]} | {state.compared()}"
    )


@pytest.mark.restarts_engine
def test_the_docker_engine_restarted_during_a_build_then_a_rerun_converges(
    world: World, clone: Clone
) -> None:
    paths = StackPaths.from_environment()
    pidfile = paths.pidfile("dockerd")
    if engine.external_engine_requested() or services.read_pid(pidfile) is None:
        pytest.skip("the Docker engine is not the stack's own: this test restarts only that one")
    process = subprocess.Popen(
        clone.argv("release", "--version", VERSION),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clone.environment(),
    )
    assert process.stdout is not None
    seen = []
    try:
        building = False
        for line in process.stdout:
            seen.append(line)
            building = building or line.startswith("- build:")
            # The first progress line of a platform build: buildx is talking to the engine.
            if building and line.startswith("  linux/"):
                assert services.stop("dockerd", pidfile)
                break
        seen.append(process.stdout.read())
        process.wait(timeout=300)
    finally:
        components = lifecycle.up(paths)  # the engine back, as a maintainer would bring it
    output = "".join(seen)
    assert all(c.ok for c in components), [c.name for c in components if not c.ok]
    assert process.returncode == 1, output
    last = [line for line in output.splitlines() if line.strip()][-1]
    assert last.startswith("error: ") and "Traceback" not in output, output
    assert "- binaries:" not in output, output
    state = converges(world, clone)
    record(
        "Docker engine restarted",
        "build (both platforms)",
        True,
        f"{last[:90]} | {state.compared()}",
    )
