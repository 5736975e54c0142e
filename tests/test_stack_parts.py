"""The local stack's decisions and its process bookkeeping, without the stack itself."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devstack import baseimages, engine, packages, registry, services
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
    with pytest.raises(ReleaseError, match="crasher exited with status 3") as failure:
        services.start(service, paths, timeout=10)
    assert str(paths.logfile("crasher")) in str(failure.value)
    assert "boom" in paths.logfile("crasher").read_text()


def test_a_stale_pid_file_is_not_a_running_service(paths: StackPaths) -> None:
    paths.pidfile("ghost").write_text("999999999\n")
    assert services.read_pid(paths.pidfile("ghost")) is None
