"""The tag policy checked in a real registry, a registry with authentication, and a platform
that fails while the other builds."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from python_on_whales import DockerClient

from release import commands, registry
from release.plan import ReleaseOptions
from tests.gitrepos import REPO_ROOT, git
from tests.stack.test_build_publish import Checkout, checkout_of
from tests.test_image_tags import EXPECTED, SEQUENCE

TINY = """\
FROM scratch
ARG VERSION
LABEL org.opencontainers.image.version="${VERSION}"
COPY marker /marker
"""


def push_tiny_images(docker: DockerClient, image: str, version: str, context: Path) -> None:
    (context / "Dockerfile").write_text(TINY)
    (context / "marker").write_text(f"{version}\n")
    for arch in ("amd64", "arm64"):
        docker.buildx.build(
            context,
            platforms=[f"linux/{arch}"],
            build_args={"VERSION": version},
            tags=[f"{image}:v{version}-{arch}"],
            push=True,
            provenance=False,
            progress=False,
        )


def test_latest_and_floating_tags_over_a_release_sequence(
    docker: DockerClient, repo_root: Path, tmp_path: Path
) -> None:
    checkout = checkout_of(repo_root, tmp_path)
    context = tmp_path / "tiny"
    context.mkdir()
    for step, version in enumerate(SEQUENCE):
        push_tiny_images(docker, checkout.image, version, context)
        checkout.tag_release(version)
        options = ReleaseOptions(version=version, image=checkout.image)
        commands.run_slice("release.publish", checkout.root, options)

        index_of = {
            registry.manifest(f"{checkout.image}:v{v}")["digest"]: v  # type: ignore[index]
            for v in SEQUENCE[: step + 1]
        }
        pointers = {}
        for tag in ("latest", "1", "1.0", "1.1", "1.2"):
            found = registry.manifest(f"{checkout.image}:{tag}")
            if found is not None:
                pointers[tag] = index_of[found["digest"]]
        assert pointers == EXPECTED[step], f"after publishing {version}"
    assert registry.manifest(f"{checkout.image}:2") is None  # 2.0.0-beta.1 moves nothing


def test_a_registry_with_authentication_gets_the_password_on_stdin_only(
    repo_root: Path, tmp_path: Path, authenticated_registry: str
) -> None:
    checkout = checkout_of(repo_root, tmp_path)
    pyproject = checkout.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'registry-password-env = "GITHUB_TOKEN"',
            'registry-password-env = "BARYCENTER_TEST_REGISTRY_PASSWORD"\n'
            'registry-username = "releaser"',
        )
    )
    git(checkout.root, "commit", "-qam", "ci: publish to the test registry")
    checkout.tag_release("1.6.0")
    image = f"{authenticated_registry}/barycenter"
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    isolated = {"DOCKER_CONFIG": str(docker_config)}

    refused = checkout.invoke(
        "release.build",
        "--version",
        "1.6.0",
        "--image",
        image,
        "--platform",
        "linux/amd64",
        env=isolated,
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "error: the registry 127.0.0.1:5002 refused access to "
        "127.0.0.1:5002/barycenter:v1.6.0-amd64 (unauthorized): "
        "set $BARYCENTER_TEST_REGISTRY_PASSWORD (and registry-username)"
    )

    password = "s3cret-Registry-Password"  # noqa: S105 - the test registry's own
    secret = {**isolated, "BARYCENTER_TEST_REGISTRY_PASSWORD": password}
    built = checkout.invoke("release.build", "--version", "1.6.0", "--image", image, env=secret)
    published = checkout.invoke(
        "release.publish", "--version", "1.6.0", "--image", image, env=secret
    )

    assert built.returncode == 0, built.stderr
    assert published.returncode == 0, published.stderr
    assert "s3cret" not in built.stdout + built.stderr + published.stdout + published.stderr
    for log in (checkout.root / "dist" / "v1.6.0" / "logs").iterdir():
        if log.is_file():
            assert b"s3cret" not in log.read_bytes()


FAILING = """\
FROM debian:bookworm-slim AS builder
ARG TARGETARCH
RUN if [ "$TARGETARCH" = arm64 ]; then echo "no arm64 today" >&2; exit 3; fi; sleep infinity
FROM builder AS runtime
"""


def released_with(
    repo_root: Path, base: Path, dockerfile: str, text: str, version: str
) -> Checkout:
    """A checkout building `dockerfile` (holding `text`), released as `version`."""
    checkout = checkout_of(repo_root, base)
    (checkout.root / dockerfile).write_text(text)
    pyproject = checkout.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('dockerfile = "Dockerfile"', f'dockerfile = "{dockerfile}"')
    )
    git(checkout.root, "add", ".")
    git(checkout.root, "commit", "-qm", f"test: build {dockerfile}")
    checkout.tag_release(version)
    return checkout


def test_a_failing_platform_stops_the_other_and_names_the_step(
    repo_root: Path, tmp_path: Path
) -> None:
    checkout = released_with(repo_root, tmp_path, "Dockerfile.failing", FAILING, "1.7.0")

    result = checkout.invoke("release.build", "--version", "1.7.0", "--image", checkout.image)

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "error: linux/arm64 failed at [builder] "
        'RUN if [ "arm64" = arm64 ]; then echo "no arm64 today"'
    )
    assert "; stopped linux/amd64" in lines[0]
    assert "dist/v1.7.0/logs/build-linux-arm64.log" in lines[0]
    assert registry.manifest(f"{checkout.image}:v1.7.0-amd64") is None
    assert registry.manifest(f"{checkout.image}:v1.7.0-arm64") is None


ENDLESS = """\
FROM debian:bookworm-slim AS builder
RUN echo building; sleep infinity
FROM builder AS runtime
"""


def test_sigterm_to_the_release_alone_stops_its_builds_and_it_ends_at_once(
    repo_root: Path, tmp_path: Path
) -> None:
    """A CI runner's cancel may signal our process only: the builds, which python-on-whales
    runs as our children, are told to stop, and the release ends (builds that never end would
    keep it waiting for good)."""
    checkout = released_with(repo_root, tmp_path, "Dockerfile.endless", ENDLESS, "1.8.0")
    argv = [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), "release.build"]
    argv += ["--version", "1.8.0", "--image", checkout.image, "--repo", str(checkout.root)]
    building = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(600, building.kill)  # its output never naming the step
    watchdog.start()
    try:
        assert building.stdout is not None
        for line in building.stdout:
            if "sleep infinity" in line:  # a platform's endless step has started
                break
        building.send_signal(signal.SIGTERM)  # to our pid alone, not to its group
        _, stderr = building.communicate(timeout=120)
    finally:
        watchdog.cancel()
        if building.poll() is None:
            building.kill()
            building.wait()
            # Builds it left running, had it not stopped them (only this test builds it).
            subprocess.run(["pkill", "-INT", "-f", "Dockerfile.endless"], check=False)

    assert building.returncode == 143, stderr
    assert stderr.strip().splitlines() == [
        "error: interrupted during build: run the same command again: it continues where it stopped"
    ]
    running = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [line for line in running.splitlines() if "Dockerfile.endless" in line]
