"""stack.up never harms a machine that is not a fresh Debian 12.

Each case runs the real `invoke stack.up` as root in a throw-away container made to look like
such a machine: Debian 12 with Docker CE installed (a package named docker-ce, as docker.com's
apt repository installs it), Debian 13, and Debian 12 where apt would remove a package to
install the stack's. Each refuses in one line, and afterwards the container's installed
packages and every file outside the stack's state directory are as they were.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import machine, services
from devstack.paths import StackPaths
from tests.gitrepos import REPO_ROOT

# The stack's offline rust:1-bookworm: Debian 12 with the libraries this Python needs, but
# for SQLite (githubkit imports sqlite3), which is lent from this machine.
IMAGE = "rust:1-bookworm"
LENT_LIBRARIES = (Path("/usr/lib/x86_64-linux-gnu/libsqlite3.so.0"),)
# Its parent exists before the snapshot: making the state directory changes nothing else.
STATE = "/stack/state"

FAKE_PACKAGE = """\
mkdir -p /tmp/{name}/DEBIAN
printf 'Package: {name}\\nVersion: {version}\\nArchitecture: all\\nMaintainer: t <t@t.invalid>\\n{extra}Description: stands in for {name}\\n' > /tmp/{name}/DEBIAN/control
dpkg-deb --build /tmp/{name} /tmp/{name}.deb >/dev/null
dpkg -i /tmp/{name}.deb >/dev/null
"""  # noqa: E501 - one printf line, as dpkg's control file wants it

# What is compared before and after: the installed packages, and every file changed outside
# the state directory, the mounts and the kernel's file systems.
# The test's own files go to /probe, which is left out with the state directory. A file
# written, or a directory made or removed, counts; a directory whose entries came and went
# (apt's sandboxed downloader keeps a temporary file in /tmp while it runs) does not.
DIRECTORIES = (
    "find / -xdev -type d -not -path '/proc/*' -not -path '/sys/*' -not -path '/dev/*' "
    "-not -path '/probe*' -not -path '/stack' -not -path '/stack/*' | sort"
)
SNAPSHOT_BEFORE = f"""\
mkdir /probe /stack; dpkg-query -W > /probe/packages-before; {DIRECTORIES} > /probe/dirs-before
touch /probe/marker; sleep 1.1
"""
SNAPSHOT_AFTER = f"""\
dpkg-query -W | diff /probe/packages-before - > /dev/null && echo "packages: unchanged"
changed=$( (find / -xdev -newer /probe/marker -not -type d -not -path '/proc/*' \
  -not -path '/sys/*' -not -path '/dev/*' -not -path '/probe/*' -not -path '/stack/*';
  {DIRECTORIES} | diff /probe/dirs-before - | grep '^[<>]') | head -20)
echo "files changed outside the state directory: ${{changed:-none}}"
"""


def container(script: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run `script` as root in a throw-away Debian 12 container that sees this Python and
    this checkout read-only, with the stack's state in /state."""
    mounts: list[str] = []
    for path in {Path(sys.prefix), Path(sys.base_prefix), REPO_ROOT, *LENT_LIBRARIES}:
        mounts += ["-v", f"{path}:{path}:ro"]
    invoke = f"{shlex.quote(sys.executable)} -m invoke -r {shlex.quote(str(REPO_ROOT))}"
    return subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            *mounts,
            "-e",
            f"BARYCENTER_STACK_DIR={STATE}",
            "-e",
            "GIT_PYTHON_REFRESH=quiet",
            "-e",
            f"INVOKE={invoke}",
            *extra,
            IMAGE,
            "bash",
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def refused(script_before: str) -> subprocess.CompletedProcess[str]:
    return container(
        script_before
        + SNAPSHOT_BEFORE
        + '$INVOKE stack.up > /probe/out 2> /probe/err; echo "exit $?"; cat /probe/err\n'
        + SNAPSHOT_AFTER
    )


def test_debian_12_with_docker_ce_is_refused_and_its_engine_is_the_fix() -> None:
    docker_ce = FAKE_PACKAGE.format(
        name="docker-ce", version="5:27.3.1-1~debian.12~bookworm", extra=""
    )

    result = refused(docker_ce)

    assert result.stdout.splitlines() == [
        "exit 1",
        "error: a Docker engine that stack.up did not install is here (docker-ce "
        "5:27.3.1-1~debian.12~bookworm), and stack.up's engine packages would replace it: "
        "use it instead: DOCKER_HOST=unix:///var/run/docker.sock invoke stack.up "
        "(the stack then installs no engine)",
        "packages: unchanged",
        "files changed outside the state directory: none",
    ], result.stderr

    # The fix the line names works: that engine (here, the stack's own through its socket,
    # with the docker CLI and buildx the user would have) is used, and no engine installed.
    cli = shutil.which("docker") or "/usr/bin/docker"
    buildx = "/usr/libexec/docker/cli-plugins/docker-buildx"
    fixed = container(
        docker_ce
        + "DOCKER_HOST=unix:///var/run/docker.sock $INVOKE stack.up > /tmp/out 2>&1;"
        + ' status=$?; tail -3 /tmp/out; echo "exit $status";'
        + " dpkg-query -W -f='${Status}\\n' docker-ce docker.io 2>&1 | sort",
        "--privileged",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-v",
        f"{cli}:/usr/bin/docker:ro",
        "-v",
        f"{buildx}:{buildx}:ro",
    )
    lines = fixed.stdout.splitlines()
    assert "exit 0" in lines, fixed.stdout + fixed.stderr
    # docker-ce is still installed, and docker.io never was.
    assert "install ok installed" in lines
    assert "dpkg-query: no packages found matching docker.io" in fixed.stdout


@pytest.mark.parametrize(
    ("os_release", "name"),
    [
        (
            'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n',
            "Debian GNU/Linux 13 (trixie)",
        ),
        (
            'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n',
            "Ubuntu 24.04.1 LTS",
        ),
    ],
)
def test_a_system_other_than_debian_12_is_refused(os_release: str, name: str) -> None:
    looks_like = f"printf '%s' {shlex.quote(os_release)} > /etc/os-release\n"

    result = refused(looks_like)

    assert result.stdout.splitlines() == [
        "exit 1",
        f"error: stack.up installs its parts with apt on Debian 12 only, and this is {name}: "
        "nothing was changed: run it on Debian 12 (a virtual machine or container will do)",
        "packages: unchanged",
        "files changed outside the state directory: none",
    ], result.stderr


def test_an_install_that_would_remove_a_package_is_refused_naming_it() -> None:
    conflicting = FAKE_PACKAGE.format(
        name="site-registry", version="1.0", extra="Conflicts: docker-registry\\n"
    )

    result = refused(conflicting)

    lines = result.stdout.splitlines()
    assert lines[0] == "exit 1", result.stdout + result.stderr
    assert lines[1] == (
        "error: installing qemu-user-static, binfmt-support, docker-registry, debootstrap, "
        "apache2-utils would touch packages already here: site-registry (removed): nothing "
        "was changed; install them yourself (apt-get install qemu-user-static binfmt-support "
        "docker-registry debootstrap apache2-utils), then run stack.up again"
    )
    assert lines[2:] == [
        "packages: unchanged",
        "files changed outside the state directory: none",
    ]


def test_the_engine_the_stack_installed_is_its_own_whoever_started_it() -> None:
    """systemd starts docker.io's dockerd on install: it is still the stack's engine."""
    pid = services.read_pid(StackPaths.from_environment().pidfile("dockerd"))
    if pid is None:
        pytest.skip("the engine here was not started by the stack")
    # Without its PID file, the stack's dockerd looks like anybody's...
    assert (pid, "dockerd") in machine.read_facts(None, False).foreign_engines
    # ...unless the stack installed the package it runs from.
    assert (pid, "dockerd") not in machine.read_facts(None, True).foreign_engines
