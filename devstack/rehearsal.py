"""`invoke release --version X --rehearsal`: the whole release, for real, in a sandbox.

The checkout is cloned into a sandbox outside it, with a bare origin holding main and develop.
The release there targets the stack's registry (127.0.0.1:5000), the GitHub stand-in (a stack
service on 127.0.0.1:5003, validated against GitHub's OpenAPI description) and an ephemeral
cosign key pair, through an overrides file ($BARYCENTER_RELEASE_CONFIG), so the sandbox's own
files stay as the checkout has them. Rerunning converges; `--fresh` starts a new sandbox.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devstack import lifecycle, services
from devstack.paths import StackPaths
from release.errors import ReleaseError

STANDIN_PORT = 5003
REPOSITORY = "barycenter-oidc/barycenter"
IMAGE = "127.0.0.1:5000/barycenter-rehearsal"
IDENTITY = ("Barycenter Rehearsal", "rehearsal@barycenter.invalid")


@dataclass(frozen=True)
class Sandbox:
    root: Path

    @property
    def origin(self) -> Path:
        return self.root / "origin.git"

    @property
    def work(self) -> Path:
        return self.root / "barycenter"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def overrides(self) -> Path:
        return self.root / "overrides.toml"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ReleaseError(f"git {args[0]} failed in the sandbox ({last})", "run with --fresh")
    return result.stdout.strip()


def secret(sandbox: Sandbox, name: str) -> str:
    """A random secret kept in the sandbox (mode 0600), the same on every rerun."""
    sandbox.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = sandbox.secrets / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(20))
    return path.read_text().strip()


def make_sandbox(checkout: Path, paths: StackPaths, fresh: bool) -> Sandbox:
    sandbox = Sandbox(paths.root / "rehearsal")
    if fresh and sandbox.root.exists():
        shutil.rmtree(sandbox.root)
        # The stand-in's releases belong to the old sandbox: a new one starts with none.
        services.stop("github-standin", paths.pidfile("github-standin"))
    sandbox.root.mkdir(parents=True, exist_ok=True)
    if not sandbox.origin.exists():
        git(sandbox.root, "clone", "-q", "--bare", str(checkout), str(sandbox.origin))
        branches = git(sandbox.origin, "branch", "--format=%(refname:short)").split()
        if "main" not in branches:
            head = git(sandbox.origin, "rev-parse", "HEAD")
            git(sandbox.origin, "branch", "main", head)
        if "develop" not in branches:
            git(sandbox.origin, "branch", "develop", "main")
    if not sandbox.work.exists():
        git(sandbox.root, "clone", "-q", "--branch", "main", str(sandbox.origin), str(sandbox.work))
        git(sandbox.work, "config", "user.name", IDENTITY[0])
        git(sandbox.work, "config", "user.email", IDENTITY[1])
        git(sandbox.work, "fetch", "-q", "origin", "develop:develop")
    return sandbox


def standin_answers() -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{STANDIN_PORT}/api/v3/", timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def ensure_standin(paths: StackPaths, token: str, checkout: Path) -> str:
    """The GitHub stand-in as a stack service: its releases outlive one rehearsal run."""
    os.environ["GITHUB_TOKEN"] = token
    os.environ.pop("GH_TOKEN", None)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(checkout), os.environ.get("PYTHONPATH", "")) if p
    )
    service = services.Service(
        name="github-standin",
        argv=[
            sys.executable,
            "-m",
            "devstack.github_standin",
            "--port",
            str(STANDIN_PORT),
            "--repository",
            REPOSITORY,
        ],
        ready=standin_answers,
    )
    services.start(service, paths, timeout=120)
    return f"http://127.0.0.1:{STANDIN_PORT}/api/v3"


def prepare_rehearsal(checkout: Path, fresh: bool, say: Callable[[str], None]) -> Sandbox:
    """Stack up, sandbox, keys, stand-in and overrides; the environment set for the release."""
    from release import cosign

    say("rehearsal: bringing the local stack up (idempotent)")
    components = lifecycle.up()
    missing = [c.name for c in components if not c.ok]
    if missing:
        raise ReleaseError(f"the stack lacks {', '.join(missing)}", "read invoke stack.status")
    paths = StackPaths.from_environment()
    sandbox = make_sandbox(checkout.resolve(), paths, fresh)
    password = secret(sandbox, "cosign-password")
    if not (sandbox.keys / "cosign.key").exists():
        if sandbox.keys.exists():
            shutil.rmtree(sandbox.keys)
        sandbox.keys.mkdir(parents=True)
        cosign.generate_key_pair(sandbox.keys, password)
    token = secret(sandbox, "github-token")
    api_url = ensure_standin(paths, token, Path(__file__).resolve().parent.parent)
    image = image_of(sandbox)
    sandbox.overrides.write_text(
        f'image = "{image}"\n'
        f'github-repository = "{REPOSITORY}"\n'
        f'github-api-url = "{api_url}"\n'
        f'attestation-key = "{sandbox.keys / "cosign.key"}"\n'
        f'attestation-public-key = "{sandbox.keys / "cosign.pub"}"\n'
        'attestation-password-env = "BARYCENTER_REHEARSAL_COSIGN_PASSWORD"\n'
        # The stack's registry wants no login: no password variable, so no docker login.
        'registry-password-env = "BARYCENTER_REHEARSAL_NO_REGISTRY_PASSWORD"\n'
    )
    os.environ["BARYCENTER_RELEASE_CONFIG"] = str(sandbox.overrides)
    os.environ["BARYCENTER_REHEARSAL_COSIGN_PASSWORD"] = password
    say(f"rehearsal: sandbox {sandbox.root} (origin {sandbox.origin}, clone {sandbox.work})")
    return sandbox


def image_of(sandbox: Sandbox) -> str:
    """Each sandbox its own image repository: a fresh sandbox never meets the old one's tags."""
    return f"{IMAGE}-{secret(sandbox, 'sandbox-id')[:8]}"


def where(sandbox: Sandbox, tag: str, api_url: str) -> list[str]:
    return [
        f"sandbox:  {sandbox.work} (origin {sandbox.origin})",
        f"images:   {image_of(sandbox)}:{tag}",
        f"release:  {api_url}/repos/{REPOSITORY}/releases (the GitHub stand-in)",
        f"again:    BARYCENTER_RELEASE_CONFIG={sandbox.overrides} invoke release.status "
        f"--version {tag.removeprefix('v')} --repo {sandbox.work}",
    ]


def empty_fix(sandbox: Sandbox, version: str) -> None:
    """The hotfix rehearsal's fix: an empty commit on hotfix/X, once."""
    branch = f"hotfix/{version}"
    subjects = git(sandbox.work, "log", "--format=%s", f"{branch}", "-n", "5")
    if "fix: rehearsal of a hotfix" not in subjects.splitlines():
        git(sandbox.work, "switch", "-q", branch)
        git(sandbox.work, "commit", "-q", "--allow-empty", "-m", "fix: rehearsal of a hotfix")


def default_version(work: Path) -> str:
    """Without --version: the checkout's Cargo.toml version when the checkout has not released
    it, else the next minor; the same on every rerun, so a rerun converges."""
    from release import cargo
    from release.version import parse_version, release_versions

    current = parse_version(cargo.crate_version(work).version)
    released = release_versions(git(work, "tag", "--list", "v*").split())
    if current not in released and all(v < current for v in released):
        return str(current)
    return str(max(released).bump_minor())


def rehearse_release(checkout: Path, version: str, fresh: bool, dry_run: bool) -> None:
    from release import commands
    from release.plan import ReleaseOptions

    say = commands.say
    version = version or default_version(checkout.resolve())
    sandbox = prepare_rehearsal(checkout, fresh, say)
    git(sandbox.work, "switch", "-q", "main")
    try:
        commands.release(sandbox.work, ReleaseOptions(version=version, dry_run=dry_run))
        if not dry_run:
            commands.verify(sandbox.work, version, "table", "")
    finally:
        for line in where(sandbox, f"v{version}", f"http://127.0.0.1:{STANDIN_PORT}/api/v3"):
            say(f"rehearsal: {line}")


def rehearse_hotfix(checkout: Path, version: str, fresh: bool) -> None:
    from release import commands
    from release.plan import HotfixOptions

    say = commands.say
    sandbox = prepare_rehearsal(checkout, fresh, say)
    try:
        options = HotfixOptions(version=version)
        git(sandbox.work, "switch", "-q", "main")
        commands.run_slice("hotfix.start", sandbox.work, options)
        empty_fix(sandbox, version.removeprefix("v"))
        commands.hotfix_finish(sandbox.work, options)
        # What the tag-triggered workflow does next, here in the sandbox.
        commands.run_slice("tagged", sandbox.work, options)
        commands.verify(sandbox.work, version, "table", "")
    finally:
        for line in where(sandbox, f"v{version}", f"http://127.0.0.1:{STANDIN_PORT}/api/v3"):
            say(f"rehearsal: {line}")
