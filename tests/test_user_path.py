"""The user path: a maintainer's own machine, their engine already running, no root. Its
decisions, without an engine (tests/stack/test_user_rehearsal.py runs it for real)."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from devstack import lifecycle, user_stack
from devstack.paths import DEFAULT_STATE_DIR, StackPaths, choose
from release.errors import ReleaseError
from release.oci import extract_data, unsafe_member

HOME = Path("/home/ada")


@pytest.mark.parametrize(
    ("environ", "euid", "expected"),
    [
        # root: the system path, as on a fresh Debian 12, whatever XDG says
        ({}, 0, StackPaths(DEFAULT_STATE_DIR)),
        ({"XDG_CACHE_HOME": "/home/ada/.xdg"}, 0, StackPaths(DEFAULT_STATE_DIR)),
        ({"BARYCENTER_STACK_DIR": "/srv/stack"}, 0, StackPaths(Path("/srv/stack"))),
        # anyone else: the user path, in the user's cache directory
        ({}, 1000, StackPaths(HOME / ".cache/barycenter-stack", user=True)),
        (
            {"XDG_CACHE_HOME": "/var/cache/ada"},
            1000,
            StackPaths(Path("/var/cache/ada/barycenter-stack"), user=True),
        ),
        # a relative XDG_CACHE_HOME is invalid (XDG Base Directory spec): ignored
        (
            {"XDG_CACHE_HOME": "cache"},
            1000,
            StackPaths(HOME / ".cache/barycenter-stack", user=True),
        ),
        ({"XDG_CACHE_HOME": ""}, 501, StackPaths(HOME / ".cache/barycenter-stack", user=True)),
        # a named folder is used, still on the user path: never the system one's installs
        ({"BARYCENTER_STACK_DIR": "/srv/ada"}, 1000, StackPaths(Path("/srv/ada"), user=True)),
    ],
)
def test_root_takes_the_system_path_anyone_else_the_user_path_in_their_cache(
    environ: dict[str, str], euid: int, expected: StackPaths
) -> None:
    assert choose(environ, euid, HOME) == expected


def test_each_user_has_a_registry_name_and_port_of_their_own() -> None:
    first, second = user_stack.user_registry(1000), user_stack.user_registry(1001)
    assert first.name == "barycenter-registry-1000"
    assert first.address == "127.0.0.1:21000"
    assert second.address == "127.0.0.1:21001"
    assert user_stack.user_registry(501).address == "127.0.0.1:20501"  # macOS's first user
    # never the system stack's ports (5000-5004), never the ephemeral range
    ports = {int(user_stack.user_registry(uid).address.rsplit(":", 1)[1]) for uid in range(70000)}
    assert min(ports) == 20000 and max(ports) == 29999


INSPECT = """Name:          default
Driver:        docker

Nodes:
Name:             default
Endpoint:         default
Status:           running
BuildKit version: v0.13.1
Platforms:        linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/arm64*, linux/386
Labels:
"""


def test_the_builders_platforms_are_read_from_buildx_inspect() -> None:
    assert user_stack.parse_platforms(INSPECT) == (
        "linux/amd64",
        "linux/amd64/v2",
        "linux/amd64/v3",
        "linux/arm64",
        "linux/386",
    )
    assert user_stack.parse_platforms("Name: x\nDriver: docker\n") == ()


def engine(platforms: tuple[str, ...], containerd_store: bool = True) -> user_stack.UserEngine:
    return user_stack.UserEngine("27.3.1", containerd_store, "v0.17.1", "default", platforms)


@pytest.mark.parametrize(
    ("facts", "problem", "fix"),
    [
        (engine(("linux/amd64", "linux/arm64")), None, None),
        (
            engine(("linux/amd64", "linux/386")),
            "the buildx builder default cannot build linux/arm64 (it lists linux/amd64, linux/386)",
            "tonistiigi/binfmt --install arm64",
        ),
        (engine(()), "cannot build linux/amd64, linux/arm64 (it lists no platforms)", "binfmt"),
        (
            engine(("linux/amd64", "linux/arm64"), containerd_store=False),
            "the engine 27.3.1 keeps images in the classic store",
            "turn on the containerd image store",
        ),
    ],
)
def test_an_engine_that_cannot_build_the_release_is_refused_in_one_line_naming_the_fix(
    facts: user_stack.UserEngine, problem: str | None, fix: str | None
) -> None:
    refused = user_stack.engine_refusal(facts)
    if problem is None:
        assert refused is None
        return
    assert refused is not None
    assert problem in refused[0]
    assert fix is not None and fix in refused[1]
    assert "\n" not in refused[0] + refused[1]


def archive(*members: tarfile.TarInfo) -> tarfile.TarFile:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    data.seek(0)
    return tarfile.open(fileobj=data)


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, 1 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    ("entry", "refused"),
    [
        (member("blobs/sha256/ab"), ""),
        (member("blobs", tarfile.DIRTYPE), ""),
        (member("latest", tarfile.SYMTYPE, "blobs/sha256/ab"), ""),
        (member("/etc/passwd"), "/etc/passwd points outside the folder (/etc/passwd)"),
        (member("a/../../b"), "a/../../b points outside the folder (a/../../b)"),
        (member("up", tarfile.SYMTYPE, "../../etc"), "up points outside the folder (../../etc)"),
        (member("h", tarfile.LNKTYPE, "/etc/shadow"), "h points outside the folder (/etc/shadow)"),
        (member("dev", tarfile.CHRTYPE), "dev is neither a file, a folder nor a link"),
        (member("fifo", tarfile.FIFOTYPE), "fifo is neither a file, a folder nor a link"),
    ],
)
def test_archives_are_unpacked_as_tarfiles_data_filter_would_even_where_python_lacks_it(
    entry: tarfile.TarInfo, refused: str
) -> None:
    assert unsafe_member(entry) == refused


def test_an_archive_with_a_member_outside_is_unpacked_nowhere(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="outside the folder"):
        extract_data(archive(member("fine"), member("../escaped")), tmp_path / "out")
    assert not (tmp_path / "escaped").exists()
    extract_data(archive(member("fine")), tmp_path / "ok")
    assert (tmp_path / "ok" / "fine").read_bytes() == b"x"


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI")
def test_with_no_engine_answering_stack_up_refuses_in_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = f"unix://{tmp_path}/no-engine.sock"
    monkeypatch.setenv("DOCKER_HOST", nowhere)
    state = StackPaths(tmp_path / "state", user=True)
    with pytest.raises(ReleaseError) as refused:
        lifecycle.up(state)
    assert refused.value.problem.startswith(f"no Docker engine answers at {nowhere}")
    assert refused.value.fix is not None and "DOCKER_HOST" in refused.value.fix
    assert "\n" not in str(refused.value)
    assert not state.root.exists()
    # stack.status reports it rather than refusing
    engine_row = lifecycle.status(state)[0]
    assert (engine_row.name, engine_row.ok) == ("docker engine", False)
    assert engine_row.detail.startswith(f"no Docker engine answers at {nowhere}")
