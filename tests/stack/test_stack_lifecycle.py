"""stack.up on a machine where the stack already runs: it reuses everything, starts nothing."""

from __future__ import annotations

from devstack import engine, lifecycle, registry, services
from devstack.paths import StackPaths


def running_pids(paths: StackPaths) -> dict[str, int | None]:
    return {
        name: services.read_pid(paths.pidfile(name))
        for name in ("dockerd", registry.TARGET.name, registry.MIRROR.name)
    }


def test_a_second_stack_up_reuses_the_running_services() -> None:
    paths = StackPaths.from_environment()
    before = running_pids(paths)

    components = lifecycle.up(paths)

    assert running_pids(paths) == before
    assert all(component.ok for component in components), components


def test_status_names_each_component_and_where_its_logs_are() -> None:
    components = {component.name: component for component in lifecycle.status()}
    assert components["docker engine"].ok
    assert "containerd image store" in components["docker engine"].detail
    assert components["registry"].detail.startswith("http://127.0.0.1:5000")
    assert components["registry"].log.endswith("registry.log")
    assert components["arm64 emulation"].ok
    assert components["cosign"].ok


def test_the_engine_has_buildx_and_the_containerd_store() -> None:
    facts = engine.probe()
    assert facts is not None
    assert facts.containerd_store
    assert facts.buildx_version
    assert int(facts.server_version.split(".")[0]) >= 26
