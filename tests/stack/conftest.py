"""Every test below this folder needs the local release stack that `invoke stack.up` starts."""

from __future__ import annotations

import pytest
from python_on_whales import DockerClient

from devstack import lifecycle


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/stack/" in item.nodeid:
            item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="session", autouse=True)
def stack_is_up() -> None:
    missing = [component.name for component in lifecycle.status() if not component.ok]
    if missing:
        pytest.fail(
            f"the local release stack lacks {', '.join(missing)}: run `invoke stack.up`",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def docker() -> DockerClient:
    return DockerClient()
