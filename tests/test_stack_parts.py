"""The local stack's decisions and its process bookkeeping, without the stack itself."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from devstack import (
    baseimages,
    engine,
    machine,
    packages,
    progress,
    registry,
    rehearsal,
    services,
)
from devstack.paths import StackPaths
from release.errors import ReleaseError


@pytest.fixture
def paths(tmp_path: Path) -> StackPaths:
    stack = StackPaths(tmp_path / "stack")
    stack.ensure()
    return stack


def test_the_engine_uses_the_containerd_store_and_the_loopback_mirror() -> None:
    config = engine.daemon_config("127.0.0.1:5001")
    assert config == {
        "registry-mirrors": ["http://127.0.0.1:5001"],
        "features": {"containerd-snapshotter": True},
    }


def test_trixie_is_pinned_for_dockers_packages_only(paths: StackPaths) -> None:
    options = packages.trixie_apt_options(paths)
    preferences = (paths.apt / "preferences").read_text()
    low, high = preferences.split("\n\n")
    assert "Package: *" in low and "Pin-Priority: 100" in low
    assert "Pin-Priority: 990" in high
    for name in packages.TRIXIE_ENGINE_PACKAGES:
        assert name in high
    assert "trixie main" in (paths.apt / "trixie.list").read_text()
    # The system's own apt configuration is never written.
    assert all("/etc/apt/sources.list.d" in o or str(paths.root) in o for o in options)


def test_registries_listen_on_loopback_with_deletes_enabled(tmp_path: Path) -> None:
    text = registry.config_text(registry.TARGET, str(tmp_path))
    assert "addr: 127.0.0.1:5000" in text
    assert f"rootdirectory: {tmp_path}" in text
    assert "enabled: true" in text
    assert registry.MIRROR.address.startswith("127.0.0.1:")


def test_base_image_recipes_change_with_what_they_include() -> None:
    slim, rust = baseimages.BASE_IMAGES
    assert (slim.repository, slim.tag) == ("library/debian", "bookworm-slim")
    assert (rust.repository, rust.tag) == ("library/rust", "1-bookworm")
    assert slim.recipe != rust.recipe
    assert (
        baseimages.BaseImage("library/x", "t", ("a",)).recipe
        != baseimages.BaseImage("library/x", "t", ("b",)).recipe
    )


def test_a_service_starts_once_and_stops_by_its_pid(paths: StackPaths) -> None:
    marker = paths.root / "started"
    script = f"open({str(marker)!r}, 'a').write('x'); import time; time.sleep(60)"
    service = services.Service(
        name="sleeper",
        argv=[sys.executable, "-c", script],
        ready=marker.exists,
    )
    first = services.start(service, paths, timeout=10)
    again = services.start(service, paths, timeout=10)
    assert first == again
    assert marker.read_text() == "x"
    assert services.stop("sleeper", paths.pidfile("sleeper"))
    assert not services.pid_alive(first)
    assert not paths.pidfile("sleeper").exists()
    assert not services.stop("sleeper", paths.pidfile("sleeper"))


def test_a_service_that_exits_at_once_is_reported_with_its_log(paths: StackPaths) -> None:
    service = services.Service(
        name="crasher",
        argv=[sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
        ready=lambda: False,
    )
    with pytest.raises(ReleaseError) as failure:
        services.start(service, paths, timeout=10)
    assert str(failure.value) == (
        f"crasher exited with status 3 (boom): read {paths.logfile('crasher')}"
    )


def test_a_service_that_fails_says_its_last_error_line_and_its_own_fix(
    paths: StackPaths,
) -> None:
    paths.logfile("standin").write_text("an earlier start's last words\n")
    service = services.Service(
        name="standin",
        argv=[sys.executable, "-c", "import no_such_module_here"],
        ready=lambda: False,
        fix=rehearsal.standin_fix,
    )
    with pytest.raises(ReleaseError) as failure:
        services.start(service, paths, timeout=10)
    assert str(failure.value) == (
        "standin exited with status 1 (ModuleNotFoundError: No module named "
        "'no_such_module_here'): run ./bootstrap, which installs the rehearsal extra "
        f"(pip install '.[rehearsal]') (log: {paths.logfile('standin')})"
    )


DEBIAN_12 = {"ID": "debian", "VERSION_ID": "12", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"}
USE_YOUR_ENGINE = (
    "use it instead: DOCKER_HOST=unix:///var/run/docker.sock invoke stack.up "
    "(the stack then installs no engine)"
)
ELSEWHERE = "nothing was changed: run it on Debian 12 (a virtual machine or container will do)"


@pytest.mark.parametrize(
    ("os_release", "packages_here", "engines", "docker_host", "expected"),
    [
        (DEBIAN_12, {}, (), "", None),
        # The stack's own engine is excluded before the facts are made: none here.
        (DEBIAN_12, {}, (), "unix:///var/run/docker.sock", None),
        (
            DEBIAN_12,
            {"docker-ce": "5:27.3.1-1~debian.12~bookworm"},
            (),
            "",
            (
                "a Docker engine that stack.up did not install is here (docker-ce "
                "5:27.3.1-1~debian.12~bookworm), and stack.up's engine packages would replace it",
                USE_YOUR_ENGINE,
            ),
        ),
        (
            DEBIAN_12,
            {"containerd.io": "1.7.22-1"},
            ((4242, "dockerd"),),
            "",
            (
                "a Docker engine that stack.up did not install is here (containerd.io 1.7.22-1, "
                "dockerd (pid 4242)), and stack.up's engine packages would replace it",
                USE_YOUR_ENGINE,
            ),
        ),
        (
            DEBIAN_12,
            {},
            ((77, "com.docker.backend"),),
            "",
            (
                "a Docker engine that stack.up did not install is here (com.docker.backend "
                "(pid 77)), and stack.up's engine packages would replace it",
                USE_YOUR_ENGINE,
            ),
        ),
        # With DOCKER_HOST the user's engine is used, and no engine package installed.
        (DEBIAN_12, {"docker-ce": "5:27.3.1"}, ((1, "dockerd"),), "unix:///x.sock", None),
        (
            {"ID": "debian", "VERSION_ID": "13", "PRETTY_NAME": "Debian GNU/Linux 13 (trixie)"},
            {},
            (),
            "",
            (
                "stack.up installs its parts with apt on Debian 12 only, and this is "
                "Debian GNU/Linux 13 (trixie)",
                ELSEWHERE,
            ),
        ),
        (
            {"ID": "ubuntu", "VERSION_ID": "12", "NAME": "Ubuntu"},
            {},
            (),
            "unix:///var/run/docker.sock",
            (
                "stack.up installs its parts with apt on Debian 12 only, and this is Ubuntu",
                ELSEWHERE,
            ),
        ),
        (
            {},
            {},
            (),
            "",
            (
                "stack.up installs its parts with apt on Debian 12 only, and this is an "
                "unknown system",
                ELSEWHERE,
            ),
        ),
    ],
)
def test_stack_up_refuses_machines_it_could_harm(
    os_release: dict[str, str],
    packages_here: dict[str, str],
    engines: tuple[tuple[int, str], ...],
    docker_host: str,
    expected: tuple[str, str] | None,
) -> None:
    facts = machine.MachineFacts(os_release, packages_here, engines, docker_host)
    assert machine.refusal(facts) == expected


def test_os_release_is_read_as_its_shell_quoting_says() -> None:
    text = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n# x=y\n'
    assert machine.parse_os_release(text) == {
        "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)",
        "ID": "debian",
        "VERSION_ID": "12",
    }


def test_apts_simulation_names_what_it_would_remove_or_replace() -> None:
    simulation = """\
NOTE: This is only a simulation!
Remv docker-ce [5:27.3.1-1~debian.12~bookworm] [docker-ce-cli:amd64 ]
Remv containerd.io [1.7.22-1]
Inst docker.io [20.10.24+dfsg1-1+b3] (26.1.5+dfsg1-9+b9 Debian:testing [amd64])
Inst containerd (1.7.24~ds1-6+b4 Debian:testing [amd64])
Conf containerd (1.7.24~ds1-6+b4 Debian:testing [amd64])
"""
    assert packages.replaced_packages(simulation) == [
        "docker-ce (removed)",
        "containerd.io (removed)",
        "docker.io 20.10.24+dfsg1-1+b3 (replaced)",
    ]
    assert packages.replaced_packages("Inst qemu-user-static (1:7.2 Debian:12 [amd64])") == []


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ("", "resolving packages"),
        ("I: Retrieving InRelease \nI: Retrieving Packages \n", "resolving packages"),
        (
            "I: Retrieving adduser 3.134\nI: Validating adduser 3.134\nI: Retrieving apt 2.6.1\n",
            "downloading: 2 packages so far",
        ),
        (
            "I: Retrieving a 1\nI: Retrieving b 2\nI: Retrieving c 3\nI: Extracting a...\n",
            "extracting 1/3 packages",
        ),
        (
            "I: Retrieving a 1\nI: Retrieving b 2\nI: Unpacking required packages...\n"
            "I: Unpacking a...\nI: Configuring a...\nI: Configuring b...\n"
            "I: Configuring the base system...\n",
            "configuring 2/2 packages",
        ),
    ],
)
def test_debootstraps_progress_is_read_from_its_log(log: str, expected: str) -> None:
    assert baseimages.debootstrap_progress(log) == expected


def test_a_stale_pid_file_is_not_a_running_service(paths: StackPaths) -> None:
    paths.pidfile("ghost").write_text("999999999\n")
    assert services.read_pid(paths.pidfile("ghost")) is None


def test_a_long_phase_prints_its_progress_to_a_log_every_interval() -> None:
    log = io.StringIO()
    console = Console(file=log, force_terminal=False, width=100)
    with progress.reporting(console, lambda seconds: ["  rust:1-bookworm arm64: working"], 0.05):
        time.sleep(0.3)
    lines = log.getvalue().splitlines()
    assert len(lines) >= 3
    assert set(lines) == {"  rust:1-bookworm arm64: working"}


def test_a_phase_inside_another_on_a_terminal_prints_instead_of_a_second_live_display() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with (
        progress.reporting(console, lambda seconds: ["outer"], 0.05),
        progress.reporting(console, lambda seconds: ["inner phase"], 0.05),
    ):
        time.sleep(0.3)
    assert "inner phase" in screen.getvalue()


def test_dpkgs_progress_counts_what_it_unpacked_then_what_it_set_up() -> None:
    unpacking = "Selecting previously unselected package rustc.\nUnpacking rustc (1.63.0) ...\n"
    assert baseimages.dpkg_progress(unpacking, 65) == "unpacking 1/65 packages"
    setting_up = unpacking + "Unpacking cargo (0.66.0) ...\nSetting up rustc (1.63.0) ...\n"
    assert baseimages.dpkg_progress(setting_up, 65) == "configuring 1/65 packages"


def test_the_packages_a_tree_has_are_read_from_its_dpkg_database(tmp_path: Path) -> None:
    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    status.write_text(
        "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n"
        "Description: sh\n continued: line\n\n"
        "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n"
    )
    assert baseimages.installed_packages(tmp_path) == {("bash", "5.2.15-2+b2")}


def test_a_background_step_stops_with_its_children_when_stack_up_stops(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {pidfile}; wait"
    failures: list[BaseException] = []

    def run() -> None:
        try:
            baseimages.run_logged(["sh", "-c", script], tmp_path / "log", "debootstrap x")
        except ReleaseError as error:
            failures.append(error)

    baseimages.CANCEL.clear()
    worker = threading.Thread(target=run)
    started = time.monotonic()
    worker.start()
    assert services.wait_until(pidfile.exists, 10)
    baseimages.CANCEL.set()
    worker.join(15)
    baseimages.CANCEL.clear()
    assert time.monotonic() - started < 15
    assert [str(error) for error in failures] == ["debootstrap x stopped: run stack.up again"]
    child = int(pidfile.read_text())
    assert services.wait_until(lambda: not services.pid_alive(child), 5)


def test_a_zombie_is_not_a_running_engine() -> None:
    """An engine stopped but not yet reaped (its parent gone) must not count as running."""
    child = subprocess.Popen(["true"])
    stat = Path(f"/proc/{child.pid}/stat")
    assert services.wait_until(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "Z", 5)
    assert child.pid not in dict(machine.running_processes())
    child.wait()
