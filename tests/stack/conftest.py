"""Every test below this folder needs the local release stack that `invoke stack.up` starts."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from devstack import lifecycle


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/stack/" in item.nodeid:
            item.add_marker(pytest.mark.stack)
    # A test that restarts the engine goes last, so no other test's build is cut off by it.
    items.sort(key=lambda item: item.get_closest_marker("restarts_engine") is not None)


@pytest.fixture(scope="session", autouse=True)
def stack_is_up() -> None:
    """The same idempotent `stack.up` a maintainer runs: about a second when it runs already."""
    if all(component.ok for component in lifecycle.status()):
        return
    components = lifecycle.up()
    missing = [component.name for component in components if not component.ok]
    if missing:
        pytest.fail(f"stack.up could not bring up {', '.join(missing)}", pytrace=False)


@pytest.fixture
def authenticated_registry(tmp_path: Path) -> Iterator[str]:
    """A registry on loopback that wants a user and password (htpasswd, bcrypt)."""
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(
        ["htpasswd", "-Bbc", str(htpasswd), "releaser", "s3cret-Registry-Password"],
        check=True,
        capture_output=True,
    )
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        "http:\n  addr: 127.0.0.1:5002\n"
        f"auth:\n  htpasswd:\n    realm: barycenter-test\n    path: {htpasswd}\n"
    )
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:5002/v2/", timeout=1)
            except urllib.error.HTTPError as error:
                if error.code == 401:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("the htpasswd registry on 127.0.0.1:5002 never answered 401")
            time.sleep(0.1)
        yield "127.0.0.1:5002"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def docker() -> DockerClient:
    return DockerClient()
