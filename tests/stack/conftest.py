"""Every test below this folder needs the local release stack that `invoke stack.up` starts."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from devstack import lifecycle
from tests.engine_turns import stack_up_turn


@pytest.fixture(scope="session", autouse=True)
def stack_is_up() -> None:
    """The same idempotent `stack.up` a maintainer runs: about a second when it runs already.
    One worker at a time: the others find it up."""
    with stack_up_turn():
        if all(component.ok for component in lifecycle.status()):
            return
        components = lifecycle.up()
    missing = [component.name for component in components if not component.ok]
    if missing:
        pytest.fail(f"stack.up could not bring up {', '.join(missing)}", pytrace=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def htpasswd_registry(
    base: Path,
    password: str,
    *,
    username: str = "releaser",
    port: int | None = None,
    realm: str = "barycenter-test",
    storage: Path | None = None,
    delete_enabled: bool = False,
    extra_config: str = "",
) -> Iterator[str]:
    """A `docker-registry` of our own on loopback that wants `username` and `password`
    (htpasswd, bcrypt): yields its host:port once /v2/ answers 401, stops it after.

    Its htpasswd file and registry.yml go in `base`, its blobs in `storage` (`base`/data unless
    given); `port` is a free one unless given; `delete_enabled` lets manifests and blobs be
    deleted; `extra_config` is more top-level YAML, such as a `middleware:` section."""
    htpasswd = base / "htpasswd"
    subprocess.run(
        ["htpasswd", "-Bbc", str(htpasswd), username, password], check=True, capture_output=True
    )
    port = port or free_port()
    host = f"127.0.0.1:{port}"
    config = base / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage or base / 'data'}\n"
        + ("  delete:\n    enabled: true\n" if delete_enabled else "")
        + extra_config
        + f"http:\n  addr: {host}\n"
        f"auth:\n  htpasswd:\n    realm: {realm}\n    path: {htpasswd}\n"
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
                urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
            except urllib.error.HTTPError as error:
                if error.code == 401:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"the htpasswd registry on {host} never answered 401")
            time.sleep(0.1)
        yield host
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def authenticated_registry(tmp_path: Path) -> Iterator[str]:
    """A registry on 127.0.0.1:5002 that wants releaser / s3cret-Registry-Password."""
    with htpasswd_registry(tmp_path, "s3cret-Registry-Password", port=5002) as host:
        yield host


@pytest.fixture(scope="session")
def docker() -> DockerClient:
    return DockerClient()
