"""Secrets canary: unique random values for the registry password, the GitHub token and the
cosign key password go through whole release runs in a sandbox (a refused login, a run whose
GitHub step fails, the rerun that finishes it) and are looked for everywhere they must not be:
the runs' output, every file of the sandbox (work clone, its .git, dist/, origin) and of the
registry's storage, and the argv of every child process, sampled every 5 ms while they ran."""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devstack.github_standin import Fault, GitHubStandIn
from tests.release_sandbox import ReleaseSandbox, make_sandbox
from tests.stack.conftest import htpasswd_registry

VERSION = "0.2.0"
USERNAME = "releaser"


def canary(kind: str) -> str:
    return f"canary-{kind}-{secrets.token_hex(16)}"


@dataclass(frozen=True)
class Canaries:
    registry_password: str = field(default_factory=lambda: canary("registry"))
    wrong_registry_password: str = field(default_factory=lambda: canary("wrong-registry"))
    github_token: str = field(default_factory=lambda: "ghp_" + secrets.token_hex(18))
    key_password: str = field(default_factory=lambda: canary("cosign"))

    def secrets(self) -> list[str]:
        return [
            self.registry_password,
            self.wrong_registry_password,
            self.github_token,
            self.key_password,
        ]

    def needles(self) -> dict[bytes, str]:
        """Each secret as bytes, base64'd at every alignment (standard and URL-safe), and the
        `user:password` pair docker's auth configs and Basic headers encode -> what it is."""
        found: dict[bytes, str] = {}
        for secret in self.secrets():
            found[secret.encode()] = secret
            for plain in (secret, f"{USERNAME}:{secret}", f"oauth2:{secret}"):
                for encoded in base64_forms(plain.encode()):
                    found[encoded] = f"base64 of {plain}"
        return found


def base64_forms(data: bytes) -> list[bytes]:
    """The base64 characters that `data` alone determines, wherever it sits in a longer input."""
    forms = []
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + data)
            start = -(-offset * 4 // 3)  # the characters touched by the padding in front
            end = (offset + len(data)) // 3 * 4  # only whole groups: none touched by what follows
            forms.append(encoded[start:end])
    return forms


def sightings_in(data: bytes, needles: dict[bytes, str]) -> list[str]:
    return [what for needle, what in needles.items() if needle in data]


class ArgvSampler(threading.Thread):
    """Walks /proc every 5 ms; for each descendant of a watched process, reads its argv.

    A process's parent and start time are read once (its stat), its argv on every pass: a
    forked child shows its parent's argv until it execs."""

    def __init__(self, needles: dict[bytes, str]) -> None:
        super().__init__(daemon=True)
        self.needles = needles
        self.roots: set[int] = set()
        self.roots_lock = threading.Lock()
        self.error: BaseException | None = None
        self.known: dict[int, tuple[int, str]] = {}  # pid -> (parent, start time)
        self.seen: set[tuple[int, str, str]] = set()  # (pid, start time, program)
        self.sightings: list[str] = []
        self.passes = 0
        self.stopping = threading.Event()

    def watch(self, pid: int) -> None:
        with self.roots_lock:
            self.roots.add(pid)

    def run(self) -> None:
        try:
            while not self.stopping.wait(0.005):
                self.sample()
        except BaseException as error:  # reported by the test rather than lost with the thread
            self.error = error

    def programs(self) -> list[str]:
        return [program for _, _, program in self.seen]

    def processes(self) -> int:
        return len({(pid, started) for pid, started, _ in self.seen})

    def sample(self) -> None:
        running = {int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()}
        for gone in self.known.keys() - running:
            del self.known[gone]
        for pid in running - self.known.keys():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            self.known[pid] = (int(fields[1]), fields[19])
        parents = {pid: parent for pid, (parent, _) in self.known.items()}
        with self.roots_lock:
            roots = set(self.roots)
        for pid, (_, started) in list(self.known.items()):
            if not self.descends(pid, parents, roots):
                continue
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if not argv:
                continue  # a zombie
            program = Path(argv.split(b"\0", 1)[0].decode(errors="replace")).name
            self.seen.add((pid, started, program))
            for what in sightings_in(argv, self.needles):
                self.sightings.append(f"{what} in argv of {program} ({pid})")
        self.passes += 1

    @staticmethod
    def descends(pid: int, parents: dict[int, int], roots: set[int]) -> bool:
        while pid > 1:
            if pid in roots:
                return True
            pid = parents.get(pid, 0)
        return False


@dataclass
class Run:
    name: str
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Campaign:
    canaries: Canaries
    sandbox: ReleaseSandbox
    registry_storage: Path
    docker_config: Path
    sampler: ArgvSampler
    runs: dict[str, Run] = field(default_factory=dict)
    unchanged_by_refused_login: bool = False


@pytest.fixture(scope="module")
def canaries() -> Canaries:
    return Canaries()


@pytest.fixture(scope="module")
def password_registry(
    tmp_path_factory: pytest.TempPathFactory, canaries: Canaries
) -> Iterator[tuple[str, Path]]:
    """A registry of our own on loopback wanting `releaser` and the registry canary (htpasswd):
    the shared one on :5000 takes anyone. (host, its storage directory)."""
    base = tmp_path_factory.mktemp("canary-registry")
    with htpasswd_registry(
        base,
        canaries.registry_password,
        username=USERNAME,
        realm="barycenter-canary",
        storage=base / "data",
        delete_enabled=True,
    ) as host:
        yield host, base / "data"


@pytest.fixture(scope="module")
def campaign(
    tmp_path_factory: pytest.TempPathFactory,
    canaries: Canaries,
    password_registry: tuple[str, Path],
) -> Iterator[Campaign]:
    """The runs, once for all the tests below, each watched by the argv sampler."""
    host, storage = password_registry
    sampler = ArgvSampler(canaries.needles())
    sampler.start()
    with GitHubStandIn("barycenter-oidc/barycenter", canaries.github_token) as standin:
        sandbox = make_sandbox(
            tmp_path_factory.mktemp("canary-sandbox"),
            standin,
            canaries.github_token,
            develop=False,
            registry=host,
            key_password=canaries.key_password,
        )
        # Credentials the way a maintainer gives them: a user in the configuration, the
        # password in a variable it names.
        with sandbox.overrides.open("a") as overrides:
            overrides.write(
                f'registry-username = "{USERNAME}"\nregistry-password-env = "REGISTRY_PASSWORD"\n'
            )
        # docker keeps a login in its config directory: a fresh one outside the sandbox, so
        # the shared ~/.docker is left alone and what the login stores can be found.
        docker_config = tmp_path_factory.mktemp("canary-docker-config")
        found = Campaign(canaries, sandbox, storage, docker_config, sampler)

        def release(name: str, password: str, *args: str) -> Run:
            environment = {
                **sandbox.environment(),
                "REGISTRY_PASSWORD": password,
                "DOCKER_CONFIG": str(docker_config),
            }
            process = subprocess.Popen(
                sandbox.argv(*args),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=environment,
            )
            sampler.watch(process.pid)
            stdout, stderr = process.communicate(timeout=1500)
            found.runs[name] = Run(name, process.returncode, stdout, stderr)
            return found.runs[name]

        before = sandbox.snapshot()
        release("wrong password", canaries.wrong_registry_password, "release", "--version", VERSION)
        found.unchanged_by_refused_login = sandbox.snapshot() == before
        # GitHub refuses the token on every create: the step fails after everything before it.
        standin.inject("repos/create-release", Fault("status", status=401), call=None)
        release(
            "github refused",
            canaries.registry_password,
            "--debug",
            "release",
            "--version",
            VERSION,
        )
        standin.clear_faults()
        release("rerun", canaries.registry_password, "--debug", "release", "--version", VERSION)
        release("status", canaries.registry_password, "release.status", "--version", VERSION)
        sampler.stopping.set()
        sampler.join(timeout=10)
        yield found
        assert standin.mismatches == []


def all_output(campaign: Campaign) -> str:
    return "\n".join(f"{run.stdout}\n{run.stderr}" for run in campaign.runs.values())


def test_the_runs_went_as_planned_refused_then_failed_at_github_then_released(
    campaign: Campaign,
) -> None:
    runs = campaign.runs
    wrong = runs["wrong password"]
    assert wrong.returncode == 1
    assert f"docker login to {campaign.sandbox.image.split('/')[0]} as releaser was refused" in (
        wrong.stderr
    )
    assert campaign.unchanged_by_refused_login
    refused = runs["github refused"]
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "GITHUB_TOKEN" in refused.stderr, refused.stderr
    assert "- build:" in refused.stdout and "- attest:" in refused.stdout, refused.stdout
    rerun = runs["rerun"]
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "- github:" in rerun.stdout and "github: done" in rerun.stdout, rerun.stdout
    assert "= verify: already done (every check passes)" in rerun.stdout, rerun.stdout
    assert runs["status"].returncode == 0, runs["status"].stderr


def test_no_secret_in_the_output_or_errors_of_any_run(campaign: Campaign) -> None:
    needles = campaign.canaries.needles()
    for run in campaign.runs.values():
        for stream, text in (("stdout", run.stdout), ("stderr", run.stderr)):
            assert sightings_in(text.encode(), needles) == [], f"{run.name}: {stream}"


def test_no_secret_in_the_argv_of_any_child_process(campaign: Campaign) -> None:
    sampler = campaign.sampler
    programs = sampler.programs()
    kinds = {program: programs.count(program) for program in sorted(set(programs))}
    processes = sampler.processes()
    print(f"argv sampler: {sampler.passes} passes, {processes} distinct processes: {kinds}")
    assert sampler.error is None
    assert sampler.sightings == []
    # Not vacuous: the sampler saw the release's children, of each kind that gets a secret.
    assert processes > 20, kinds
    for program in ("git", "docker", "cosign"):
        assert program in programs, sorted(set(programs))


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                yield path


def test_no_secret_in_any_file_of_the_sandbox_dist_or_registry(campaign: Campaign) -> None:
    sandbox = campaign.sandbox
    assert (sandbox.work / "dist" / f"v{VERSION}" / "SHA256SUMS").is_file()
    needles = campaign.canaries.needles()
    scanned: list[Path] = []
    size, sightings = 0, []
    for path in files_under(sandbox.base, campaign.registry_storage):
        data = path.read_bytes()
        scanned.append(path)
        size += len(data)
        sightings += [f"{what} in {path}" for what in sightings_in(data, needles)]
    print(f"file scan: {len(scanned)} files, {size} bytes")
    assert sightings == []
    # Not vacuous: the scan reached every place a secret could have been written. Counted by
    # part, not in total: how many files a clone's objects take depends on whether git packed them.
    parts = {
        "the clone's git objects": sandbox.work / ".git" / "objects",
        "the clone's git config": sandbox.work / ".git" / "config",
        "dist/'s archives and sums": sandbox.work / "dist" / f"v{VERSION}",
        "the origin's objects": sandbox.origin / "objects",
        "the registry's blobs": campaign.registry_storage / "docker" / "registry" / "v2" / "blobs",
    }
    reached = {
        part: sum(path == root or path.is_relative_to(root) for path in scanned)
        for part, root in parts.items()
    }
    assert all(reached.values()), reached
    assert reached["dist/'s archives and sums"] >= 3, reached  # 2 archives + SHA256SUMS
    assert reached["the registry's blobs"] >= 10, reached  # 2 platforms' layers and configs


def test_the_registry_login_is_kept_in_docker_config_outside_the_sandbox(
    campaign: Campaign,
) -> None:
    """release.registry.login is `docker login --password-stdin`: docker stores the login in
    its own config (DOCKER_CONFIG, else ~/.docker), as for any maintainer's login; never in
    the sandbox, and never the refused password."""
    stored = b"".join(path.read_bytes() for path in files_under(campaign.docker_config))
    canaries = campaign.canaries
    assert base64.b64encode(f"{USERNAME}:{canaries.registry_password}".encode()) in stored
    assert not any(
        form in stored
        for form in [
            canaries.wrong_registry_password.encode(),
            *base64_forms(f"{USERNAME}:{canaries.wrong_registry_password}".encode()),
        ]
    )
    assert not campaign.docker_config.is_relative_to(campaign.sandbox.base)


def test_the_needles_find_a_secret_however_it_is_encoded(canaries: Canaries) -> None:
    needles = canaries.needles()
    secret = canaries.registry_password
    for text in (
        f"--password={secret}",
        base64.b64encode(f'{{"auth":"{USERNAME}:{secret}"}}'.encode()).decode(),
        base64.b64encode(f"x{USERNAME}:{secret}".encode()).decode(),
        base64.urlsafe_b64encode(f"xy:{secret}!".encode()).decode(),
    ):
        assert sightings_in(text.encode(), needles) != [], text
    assert sightings_in(re.sub(r"[0-9a-f]", "0", secret).encode(), needles) == []
