"""The rehearsal on a maintainer's own machine, as a real unprivileged user (issue 25).

A user made with useradd, with a HOME of its own, in the group that may use the stack's engine
socket: "a maintainer whose Docker engine already runs". No sudo, no apt, nothing pulled (this
machine cannot): the standard `registry:2` image is stood in for by one built here from Debian's
registry binary, which the user's engine then finds as it would a pulled one. The user clones
the checkout (its HEAD: uncommitted changes are not tested), runs ./bootstrap, then `invoke
release --rehearsal` twice to a green verify (cold: a new cache, with the stack's cosign on
PATH as if it were the user's; warm: with no cosign on PATH, so rehearsed keyless, which with
no new commit in the checkout re-runs release.yml for the same version), and `stack.down`.
Nothing may be written outside that user's HOME, /tmp and the engine's state.

It creates a user, so it runs only as root on the machine the stack installed (its engine
marker and its own dockerd), never on a maintainer's machine: elsewhere it skips, saying why.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devstack import packages, services, user_stack
from devstack.paths import StackPaths
from devstack.registry import TARGET

# Alone: it looks for files written anywhere on the machine while its user rehearses.
pytestmark = [pytest.mark.stack, pytest.mark.alone]

CHECKOUT = Path(__file__).resolve().parents[2]
USER = "barycenter-rehearser"
SOCKET = Path("/var/run/docker.sock")
# The user's PATH: with cosign (the stack links it into /usr/local/bin), and without any (Debian's
# docker client, openssl and git are in /usr/bin).
WITH_COSIGN = "/usr/local/bin:/usr/bin:/bin"
WITHOUT_COSIGN = "/usr/bin:/bin"
# Where the rehearsal may not write, not even through the engine (which runs as root). The
# engine's own state (/var/lib/docker, containerd) is where the user's images and registry
# container live. /root and the tested checkout are written by root's own work meanwhile (other
# tests' buildx, lint caches): there, and everywhere else, the user's own files are looked for.
WATCHED = ("/etc", "/usr", "/opt", "/var/lib")
ENGINE_STATE = ("/var/lib/docker", "/var/lib/containerd")
# Written by other tests on the shared stack while this one runs (their registry pushes, logs,
# sandboxes): checked instead by the user's image not being in the stack's registry.
SHARED_STACK_STATE = ("registries", "logs", "run", "rehearsal")
REGISTRY_DOCKERFILE = """\
FROM debian:bookworm-slim
COPY registry /bin/registry
COPY config.yml /etc/docker/registry/config.yml
VOLUME ["/var/lib/registry"]
EXPOSE 5000
ENTRYPOINT ["/bin/registry"]
CMD ["serve", "/etc/docker/registry/config.yml"]
"""
# registry:2's own configuration: every address of the container, storage in its volume.
REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
"""


def why_not_here() -> str:
    """Why this machine is not one where a test may create users ("" when it is)."""
    if os.geteuid() != 0:
        return "it creates a user: only as root on the machine stack.up installed"
    paths = StackPaths.from_environment()
    if paths.user or not packages.engine_marker(paths).exists():
        return "stack.up did not install this machine's engine: no users are made here"
    if services.read_pid(paths.pidfile("dockerd")) is None:
        return "the engine that runs is not the stack's own: no users are made here"
    missing = [tool for tool in ("useradd", "userdel", "runuser") if not shutil.which(tool)]
    if missing:
        return f"{', '.join(missing)} missing"
    if not Path(packages_registry_binary()).exists():
        return f"no {packages_registry_binary()} to build the stand-in for registry:2 from"
    return ""


def packages_registry_binary() -> str:
    from devstack.registry import REGISTRY_BINARY

    return REGISTRY_BINARY


def docker(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def ensure_registry_image() -> None:
    """`registry:2` as a pull would give it (its entrypoint, config, volume and port), built
    from Debian's registry binary: the user path's code runs it unchanged."""
    if docker("image", "inspect", user_stack.REGISTRY_IMAGE).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as context:
        shutil.copy2(packages_registry_binary(), Path(context) / "registry")
        (Path(context) / "config.yml").write_text(REGISTRY_CONFIG)
        (Path(context) / "Dockerfile").write_text(REGISTRY_DOCKERFILE)
        built = docker("build", "-q", "-t", user_stack.REGISTRY_IMAGE, context, timeout=600)
    assert built.returncode == 0, built.stderr


def as_user(
    home: Path,
    command: str,
    timeout: float = 1800,
    path: str = WITH_COSIGN,
    user: str = USER,
    checkout: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """COMMAND in the user's checkout (their own clone unless `checkout`), as that user, with a
    clean environment: what a login shell of theirs would have, nothing of root's."""
    folder = checkout or home / "barycenter"
    return subprocess.run(
        [
            "runuser", "-u", user, "--",
            "env", "-i", f"HOME={home}", f"PATH={path}",
            "LANG=C.UTF-8", f"USER={user}", f"LOGNAME={user}",
            "sh", "-c", f"cd {folder} && {command}",
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )  # fmt: skip


def unused_uid(after: int = 64099) -> int:
    """A uid no account has: the first ones may own files already (a checkout copied with its
    owner, its objects hard-linked by git clones and touched again by git), which would read as
    the user's writes."""
    taken = {entry.pw_uid for entry in pwd.getpwall()}
    return next(uid for uid in range(after + 1, 65000) if uid not in taken)


@contextmanager
def made_user(name: str, after: int = 64099) -> Iterator[tuple[Path, int]]:
    """A user NAME with a HOME under /tmp, in the socket's group; removed with its registry
    afterwards."""
    why = why_not_here()
    if why:
        pytest.skip(why)
    socket_group = grp.getgrgid(SOCKET.stat().st_gid).gr_name
    home = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    home.rmdir()  # useradd makes it, owned by the user
    subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)
    uid = unused_uid(after)
    subprocess.run(
        ["useradd", "--create-home", "--home-dir", str(home), "--groups", socket_group,
         "--uid", str(uid), "--shell", "/bin/sh", name],
        check=True,
    )  # fmt: skip
    try:
        yield home, uid
    finally:
        docker("rm", "--force", "--volumes", user_stack.user_registry(uid).name)
        subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def shared_checkout() -> Iterator[Path]:
    """A clone of the checkout with its .venv (./bootstrap), in a folder every user may read."""
    shared = Path(tempfile.mkdtemp(prefix="barycenter-shared-"))
    try:
        shared.chmod(0o755)
        checkout = shared / "barycenter"
        subprocess.run(
            ["git", "clone", "-q", "--no-local", str(CHECKOUT), str(checkout)], check=True
        )
        # With the system's python3, as the users would: root's own may live where they cannot
        # read (pyenv under /root).
        bootstrap = subprocess.run(
            ["./bootstrap"], cwd=checkout, capture_output=True, text=True,
            env={**os.environ, "PATH": WITH_COSIGN},
        )  # fmt: skip
        assert bootstrap.returncode == 0, bootstrap.stderr[-2000:]
        yield checkout
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture
def maintainer() -> Iterator[tuple[Path, int]]:
    with made_user(USER) as (home, uid):
        try:
            yield home, uid
        finally:
            as_user(home, ".venv/bin/invoke stack.down", timeout=120)


def written_since(marker: Path, uid: int, home: Path) -> list[str]:
    """What was written outside HOME, /tmp and the engine's state since `marker`: files newer
    in the watched folders, and anything new the user owns elsewhere."""
    state = StackPaths.from_environment().root
    prune = [*ENGINE_STATE, *(str(state / name) for name in SHARED_STACK_STATE)]
    pruned = [arg for path in prune for arg in ("-path", path, "-prune", "-o")]
    newer = subprocess.run(
        ["find", *WATCHED, *pruned, "-newer", str(marker), "-print"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    # Python's bytecode caches of this checkout, written by other tests as root.
    newer = [path for path in newer if "__pycache__" not in path and ".pytest_cache" not in path]
    allowed = (str(home), tempfile.gettempdir(), str(Path("/var", "tmp")), "/proc")
    skipped = [arg for path in allowed for arg in ("-path", path, "-o")][:-1]
    owned = subprocess.run(
        ["find", "/", "-xdev", "(", *skipped, ")", "-prune", "-o",
         "-uid", str(uid), "-newer", str(marker), "-print"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    return newer + owned


def test_an_unprivileged_user_rehearses_to_a_green_verify_writing_only_in_their_own_folders(
    maintainer: tuple[Path, int],
) -> None:
    home, uid = maintainer
    ensure_registry_image()
    # --no-local: copies, not hard links to the checkout's objects, which chown would change too.
    subprocess.run(
        ["git", "clone", "-q", "--no-local", str(CHECKOUT), str(home / "barycenter")], check=True
    )
    subprocess.run(["chown", "-R", f"{USER}:{USER}", str(home / "barycenter")], check=True)
    marker = home.parent / f".{home.name}-marker"
    marker.touch()
    time.sleep(1.1)  # file times in whole seconds on some filesystems: nothing older is "newer"
    try:
        bootstrap = as_user(home, "./bootstrap")
        assert bootstrap.returncode == 0, bootstrap.stderr[-2000:]

        assert shutil.which("cosign", path=WITHOUT_COSIGN) is None
        times, outputs = [], []
        # Cold: a new cache, the user's cosign signs. Warm: the same sandbox with no cosign on
        # PATH, rehearsed keyless as GitHub Actions signs (release.yml run again for the version).
        for path in (WITH_COSIGN, WITHOUT_COSIGN):
            started = time.monotonic()
            rehearsal = as_user(home, ".venv/bin/invoke release --rehearsal", path=path)
            times.append(time.monotonic() - started)
            assert rehearsal.returncode == 0, (rehearsal.stdout + rehearsal.stderr)[-3000:]
            outputs.append(rehearsal.stdout)
        print(f"rehearsal as {USER}: cold {times[0]:.1f} s, warm without cosign {times[1]:.1f} s")
        keyed, keyless = outputs
        assert "cosign is not on PATH" not in keyed
        assert "keyless in GitHub Actions" not in keyed, keyed[-3000:]
        assert "rehearsal: cosign is not on PATH, so the provenance is rehearsed keyless" in keyless
        passed = re.search(
            r"provenance: keyless, gh attestation verify passed for (.*) \(", keyless
        )
        assert passed is not None, keyless[-3000:]
        assert passed.group(1).count(".tar.gz") == 2
        # The verify job's report says how the provenance was checked.
        assert "keyless in GitHub Actions" in keyless, keyless[-3000:]

        registry = user_stack.user_registry(uid)
        images = re.search(r"images:\s+(\S+):(v\S+)", rehearsal.stdout)
        assert images is not None, rehearsal.stdout[-2000:]
        assert images.group(1).startswith(f"{registry.address}/")
        # Never in the system stack's registry (its storage is not watched above).
        repository, tag = images.group(1).split("/", 1)[1], images.group(2)
        assert registry.has_manifest(repository, tag)
        assert not TARGET.has_manifest(repository, tag)
        sandbox = home / ".cache" / "barycenter-stack" / "rehearsal"
        assert (sandbox / "origin.git").is_dir()

        status = as_user(home, ".venv/bin/invoke stack.status", timeout=120)
        assert registry.name in status.stdout, status.stdout
        down = as_user(home, ".venv/bin/invoke stack.down", timeout=120)
        assert down.returncode == 0, down.stderr
        assert f"{registry.name} (container removed)" in down.stdout
        assert user_stack.container_state(registry.name) == ""
        assert not registry.answers()

        assert written_since(marker, uid, home) == []
    finally:
        marker.unlink()


def test_two_users_side_by_side_each_get_their_own_registry_and_down_removes_only_their_own(
    shared_checkout: Path,
) -> None:
    """Ports and names per user: both stacks up at once, both registries answer; one user's
    stack.down leaves the other's running. One checkout and venv, readable by both."""
    ensure_registry_image()
    checkout = shared_checkout
    with (
        made_user("barycenter-first") as (first_home, first_uid),
        made_user("barycenter-second", after=first_uid) as (second_home, second_uid),
    ):
        first, second = user_stack.user_registry(first_uid), user_stack.user_registry(second_uid)
        assert first.name != second.name and first.address != second.address
        invoke = f"{checkout}/.venv/bin/invoke"
        for home, user in ((first_home, "barycenter-first"), (second_home, "barycenter-second")):
            up = as_user(home, f"{invoke} stack.up", 300, user=user, checkout=checkout)
            assert up.returncode == 0, (up.stdout + up.stderr)[-2000:]
        assert first.answers() and second.answers()
        status = as_user(
            second_home, f"{invoke} stack.status", 120, user="barycenter-second", checkout=checkout
        )
        assert second.name in status.stdout and first.name not in status.stdout, status.stdout

        down = as_user(
            first_home, f"{invoke} stack.down", 120, user="barycenter-first", checkout=checkout
        )
        assert down.returncode == 0, down.stderr
        assert f"{first.name} (container removed)" in down.stdout
        assert second.name not in down.stdout
        assert not first.answers()
        assert second.answers()
        assert user_stack.container_state(second.name) == "running"
        down = as_user(
            second_home, f"{invoke} stack.down", 120, user="barycenter-second", checkout=checkout
        )
        assert down.returncode == 0, down.stderr
        assert not second.answers()
