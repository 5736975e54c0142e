"""The user path's registry is a container the stack makes and labels; a container of the same
name that the stack did not make is the user's own, and the stack neither starts nor removes it.
Run on the stack's engine with a uid no user has, so no real user's registry is touched."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from devstack import user_stack
from devstack.registry import Registry
from release.errors import ReleaseError

UNUSED_UID = 64999  # no account here has it: its registry name and port are free


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def exists(name: str) -> bool:
    return docker("container", "inspect", name).returncode == 0


@pytest.fixture
def registry() -> Iterator[Registry]:
    registry = user_stack.user_registry(UNUSED_UID)
    # An image with no files, made here: `docker create` needs one and nothing can be pulled.
    empty = subprocess.run(
        ["docker", "import", "-", "barycenter-test-empty:1"],
        input=subprocess.run(["tar", "cf", "-", "-T", "/dev/null"], capture_output=True).stdout,
        capture_output=True,
        check=False,
    )
    assert empty.returncode == 0, empty.stderr
    yield registry
    for name in (registry.name, f"{registry.name}-mine"):
        docker("rm", "--force", "--volumes", name)


def test_a_container_the_stack_did_not_make_is_neither_started_nor_removed(
    registry: Registry,
) -> None:
    made = docker("create", "--name", registry.name, "barycenter-test-empty:1", "/none")
    assert made.returncode == 0, made.stderr
    assert user_stack.container_state(registry.name) == user_stack.FOREIGN
    for act in (user_stack.remove_registry, user_stack.ensure_registry):
        with pytest.raises(ReleaseError) as refused:
            act(registry)
        assert refused.value.problem == (
            f"a container named {registry.name} exists that the stack did not make (no label "
            f"{user_stack.LABEL})"
        )
        assert refused.value.fix == (
            "rename or remove that container yourself "
            f"(`docker rename {registry.name} NEW-NAME`), then retry"
        )
        assert exists(registry.name)
        assert (
            docker(
                "container", "inspect", "--format", "{{.State.Status}}", registry.name
            ).stdout.strip()
            == "created"
        )
    # The fix the message names: the user's container renamed, the name is free again.
    renamed = docker("rename", registry.name, f"{registry.name}-mine")
    assert renamed.returncode == 0, renamed.stderr
    assert user_stack.container_state(registry.name) == ""
    assert user_stack.remove_registry(registry) is False
    assert exists(f"{registry.name}-mine")


def test_the_stacks_own_labelled_container_is_removed_with_its_volume(registry: Registry) -> None:
    made = docker(
        "create", "--name", registry.name, "--label", user_stack.LABEL,
        "--volume", "/var/lib/registry", "barycenter-test-empty:1", "/none",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    volumes = docker(
        "container", "inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", registry.name
    ).stdout.strip()
    assert volumes
    assert user_stack.container_state(registry.name) == "created"
    assert user_stack.remove_registry(registry) is True
    assert not exists(registry.name)
    assert docker("volume", "inspect", volumes).returncode != 0
