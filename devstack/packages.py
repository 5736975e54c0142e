"""System packages the stack needs: bookworm's own, plus Docker 26 and cosign from trixie.

Bookworm's Docker 20.10 cannot export build caches from buildx's docker driver, so the engine
comes from trixie through a private apt configuration that pins only Docker's packages there;
the system's apt sources and preferences are left untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from devstack.paths import StackPaths
from release.errors import ReleaseError

BOOKWORM_PACKAGES = (
    "qemu-user-static",
    "binfmt-support",
    "docker-registry",
    "debootstrap",
    "apache2-utils",  # htpasswd, for registries with authentication in tests
)
TRIXIE_ENGINE_PACKAGES = ("docker.io", "docker-cli", "containerd", "docker-buildx")
MINIMUM_ENGINE_MAJOR = 26
DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
FALLBACK_MIRROR = "http://deb.debian.org/debian"


def debian_mirror() -> str:
    """The Debian mirror apt already uses, so the stack reaches nothing new."""
    try:
        for line in DEBIAN_SOURCES.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    except OSError:
        pass
    return FALLBACK_MIRROR


def installed_version(package: str) -> str | None:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status} ${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.startswith("install ok installed"):
        return None
    return result.stdout.split()[-1]


def engine_is_current() -> bool:
    version = installed_version("docker.io")
    if version is None:
        return False
    return int(version.split(".", 1)[0].split(":")[-1]) >= MINIMUM_ENGINE_MAJOR


def trixie_apt_options(paths: StackPaths) -> list[str]:
    """apt options that add trixie for Docker's packages alone, in files of the stack's own."""
    apt = paths.apt
    (apt / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (apt / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (apt / "preferences.d").mkdir(exist_ok=True)
    (apt / "trixie.list").write_text(f"deb [arch=amd64] {debian_mirror()} trixie main\n")
    pinned = " ".join((*TRIXIE_ENGINE_PACKAGES, "cosign"))
    (apt / "preferences").write_text(
        "Package: *\nPin: release n=trixie\nPin-Priority: 100\n\n"
        f"Package: {pinned}\nPin: release n=trixie\nPin-Priority: 990\n"
    )
    return [
        f"-oDir::Etc::sourcelist={apt / 'trixie.list'}",
        "-oDir::Etc::sourceparts=/etc/apt/sources.list.d",
        f"-oDir::State::Lists={apt / 'lists'}",
        f"-oDir::Cache={apt / 'cache'}",
        f"-oDir::Etc::preferences={apt / 'preferences'}",
        f"-oDir::Etc::preferencesparts={apt / 'preferences.d'}",
        f"-oDir::Log={apt / 'log'}",
    ]


def bookworm_apt_options(paths: StackPaths) -> list[str]:
    """The system's own sources, with package lists, caches and logs of the stack's own:
    reading what apt would do writes nothing outside the stack's state directory."""
    apt = paths.apt
    (apt / "bookworm-lists" / "partial").mkdir(parents=True, exist_ok=True)
    (apt / "bookworm-cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    return [
        f"-oDir::State::Lists={apt / 'bookworm-lists'}",
        f"-oDir::Cache={apt / 'bookworm-cache'}",
        f"-oDir::Log={apt / 'log'}",
    ]


def apt_environment(paths: StackPaths) -> dict[str, str]:
    """apt's temporary files (signature checks) in the stack's state directory too."""
    temporary = paths.apt / "tmp"
    temporary.mkdir(parents=True, exist_ok=True)
    # Dir::Log's directory, which apt expects to exist.
    (paths.apt / "log").mkdir(parents=True, exist_ok=True)
    return {
        "DEBIAN_FRONTEND": "noninteractive",
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "TMPDIR": str(temporary),
    }


def replaced_packages(simulation: str) -> list[str]:
    """The installed packages an `apt-get -s install` would remove ("Remv NAME [VERSION]") or
    replace by another version ("Inst NAME [INSTALLED] (NEW ...)")."""
    touched = []
    for line in simulation.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "Remv":
            touched.append(f"{words[1]} (removed)")
        elif len(words) >= 4 and words[0] == "Inst" and words[2].startswith("["):
            touched.append(f"{words[1]} {words[2].strip('[]')} (replaced)")
    return touched


def simulate(paths: StackPaths, options: list[str], names: tuple[str, ...], fix: str) -> None:
    """apt's own simulation of installing `names`: refused, with nothing changed, when it would
    remove or replace a package already installed."""
    args = [*options, "install", "--no-install-recommends", *names]
    simulation = subprocess.run(
        ["apt-get", "-q", "-s", *args],
        capture_output=True,
        text=True,
        env=apt_environment(paths),
        check=False,
    )
    if simulation.returncode != 0:
        last = (simulation.stderr.strip().splitlines() or ["no output"])[-1]
        raise ReleaseError(f"apt-get cannot install {', '.join(names)} ({last})", fix)
    touched = replaced_packages(simulation.stdout)
    if touched:
        raise ReleaseError(
            f"installing {', '.join(names)} would touch packages already here: "
            f"{', '.join(touched)}",
            fix,
        )


def missing_bookworm_packages() -> tuple[str, ...]:
    return tuple(name for name in BOOKWORM_PACKAGES if installed_version(name) is None)


def engine_packages_missing() -> bool:
    return not engine_is_current() or installed_version("docker-buildx") is None


def bookworm_fix(missing: tuple[str, ...]) -> str:
    return (
        f"nothing was changed; install them yourself (apt-get install {' '.join(missing)}), "
        "then run stack.up again"
    )


ENGINE_FIX = (
    "nothing was changed; to use a Docker engine of your own instead: "
    "DOCKER_HOST=unix:///var/run/docker.sock invoke stack.up"
)


def preflight(paths: StackPaths, with_engine: bool) -> None:
    """Every install stack.up would make, simulated by apt before any of them is made."""
    log = paths.logfile("apt")
    missing = missing_bookworm_packages()
    if missing:
        options = bookworm_apt_options(paths)
        apt_get(paths, *options, "update", log=log)
        simulate(paths, options, missing, bookworm_fix(missing))
    if with_engine and engine_packages_missing():
        options = trixie_apt_options(paths)
        apt_get(paths, *options, "update", log=log)
        simulate(paths, options, TRIXIE_ENGINE_PACKAGES, ENGINE_FIX)


def apt_get(paths: StackPaths, *args: str, log: Path) -> None:
    with log.open("ab") as out:
        result = subprocess.run(
            ["apt-get", "-q", "-y", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=apt_environment(paths),
            check=False,
        )
    if result.returncode != 0:
        raise ReleaseError(f"apt-get {args[-1]} failed", f"read {log}")


def ensure_bookworm_packages(paths: StackPaths) -> list[str]:
    """Install what is missing of bookworm's packages, after preflight() updated the lists."""
    missing = missing_bookworm_packages()
    if missing:
        options = bookworm_apt_options(paths)
        # Simulated again: the machine may have changed since preflight().
        simulate(paths, options, missing, bookworm_fix(missing))
        apt_get(
            paths,
            *options,
            "install",
            "--no-install-recommends",
            *missing,
            log=paths.logfile("apt"),
        )
    return list(missing)


def ensure_engine_packages(paths: StackPaths) -> bool:
    """Install Docker 26 from trixie unless it is there; return whether anything was installed."""
    if not engine_packages_missing():
        return False
    options = trixie_apt_options(paths)
    simulate(paths, options, TRIXIE_ENGINE_PACKAGES, ENGINE_FIX)
    apt_get(
        paths,
        *options,
        "install",
        "--no-install-recommends",
        *TRIXIE_ENGINE_PACKAGES,
        log=paths.logfile("apt"),
    )
    # The record that this engine is the stack's own, so the next stack.up does not take it
    # for a Docker the user installed.
    engine_marker(paths).write_text(" ".join(TRIXIE_ENGINE_PACKAGES) + "\n")
    stop_distribution_service()
    return True


def engine_marker(paths: StackPaths) -> Path:
    return paths.root / "engine-installed-by-stack"


SYSTEMD = Path("/run/systemd/system")


def stop_distribution_service() -> None:
    """On a machine run by systemd, docker.io's own maintainer script enables and starts
    docker.service, with Debian's configuration (no containerd store, no mirror). The stack
    runs its own dockerd instead, so that service is stopped and disabled again."""
    if not SYSTEMD.is_dir():
        return
    subprocess.run(
        ["systemctl", "disable", "--now", "docker.service", "docker.socket"],
        capture_output=True,
        check=False,
    )


def cosign_path(paths: StackPaths) -> Path:
    return paths.bin / "cosign"


def ensure_cosign(paths: StackPaths) -> bool:
    """Unpack trixie's static cosign into the stack's bin directory; it needs no other package."""
    target = cosign_path(paths)
    if target.exists():
        put_on_path(target)
        return False
    options = trixie_apt_options(paths)
    log = paths.logfile("apt")
    if not any((paths.apt / "lists").glob("*trixie*Packages*")):
        apt_get(paths, *options, "update", log=log)
    with tempfile.TemporaryDirectory() as scratch:
        with log.open("ab") as out:
            subprocess.run(
                ["apt-get", *options, "download", "cosign"],
                cwd=scratch,
                env=apt_environment(paths),
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
            )
        debs = list(Path(scratch).glob("cosign_*.deb"))
        if not debs:
            raise ReleaseError("apt-get download cosign fetched nothing", f"read {log}")
        unpacked = Path(scratch) / "unpacked"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True)
        shutil.copy2(unpacked / "usr" / "bin" / "cosign", target)
    put_on_path(target)
    return True


ON_PATH = Path("/usr/local/bin")


def put_on_path(binary: Path) -> None:
    """The release finds cosign on PATH, as on a maintainer's machine: link the stack's copy
    into /usr/local/bin unless a cosign is there already."""
    if shutil.which(binary.name) is not None:
        return
    link = ON_PATH / binary.name
    if not link.exists() and os.access(ON_PATH, os.W_OK):
        link.symlink_to(binary)
