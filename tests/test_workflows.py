"""The GitHub workflows against the code they call: every `invoke` line names a real task and
real options, the tag filter plus its guard accept exactly the release versions, actions are
pinned by commit, and every job states its permissions."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke.collection import Collection
from invoke.loader import FilesystemLoader

from release.errors import ReleaseError
from release.version import parse_version

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
RELEASE = ROOT / ".github" / "workflows" / "release.yml"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def load(path: Path) -> dict[str, Any]:
    # PyYAML reads a bare `on` key as True (YAML 1.1); the workflows use it as a name.
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def invoke_lines(path: Path) -> list[str]:
    """Each command line of the workflow's run steps that calls invoke."""
    found = []
    for step in steps(load(path)):
        for line in str(step.get("run", "")).splitlines():
            if re.match(r"\s*invoke\s", line):
                found.append(line.strip())
    return found


def task_flags() -> dict[str, set[str]]:
    """Task name (and aliases) -> its option flags, from tasks.py's own collection."""
    module, _ = FilesystemLoader(start=str(ROOT)).load("tasks")
    collection = Collection.from_module(module)
    flags: dict[str, set[str]] = {}
    for context in collection.to_contexts():
        for name in (context.name, *context.aliases):
            if name:
                flags[name] = set(context.flags)
    return flags


def test_the_workflows_call_invoke() -> None:
    assert [path.name for path in WORKFLOWS] == ["ci.yml", "release.yml"]
    assert invoke_lines(RELEASE) == [
        'invoke release.build --version "$VERSION" --platform "$PLATFORM"',
        'invoke release.publish --version "$VERSION"',
        'invoke release.attest --version "$VERSION"',
        'invoke release.checksums --version "$VERSION"',
        'invoke release.github --version "$VERSION"',
        'invoke release.checksums --version "$VERSION"',
        'invoke release.verify --version "$VERSION"',
    ]


@pytest.mark.parametrize("line", [line for path in WORKFLOWS for line in invoke_lines(path)])
def test_every_invoke_line_names_a_real_task_and_real_options(line: str) -> None:
    flags = task_flags()
    words = shlex.split(EXPRESSION.sub("EXPR", line))
    assert words[0] == "invoke"
    task, *rest = words[1:]
    assert task in flags, f"no task {task} in tasks.py"
    options = [word.split("=", 1)[0] for word in rest if word.startswith("-")]
    unknown = [option for option in options if option not in flags[task]]
    assert not unknown, f"{task} has no option {', '.join(unknown)}"


def test_a_renamed_option_would_be_caught() -> None:
    flags = task_flags()
    assert "--version" in flags["release.build"]
    assert "--platform" in flags["release.build"]
    assert "--cache" not in flags["release.build"]
    assert "release.keygen" in flags


def github_glob(pattern: str) -> re.Pattern[str]:
    """GitHub's filter pattern for refs: `*` is any characters but `/`, `**` any characters.
    The characters `?`, `+`, `[`, `!` have meanings this translation does not implement."""
    if any(char in pattern for char in "?+[]!"):
        raise ValueError(f"{pattern} uses glob syntax this test does not translate")
    parts = re.split(r"(\*\*|\*)", pattern)
    regex = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )
    return re.compile(regex)


def tag_filters() -> list[str]:
    return list(load(RELEASE)["on"]["push"]["tags"])


def guard_script() -> str:
    version_job = load(RELEASE)["jobs"]["version"]
    (guard,) = [step for step in version_job["steps"] if step.get("id") == "version"]
    return str(guard["run"])


def guard_accepts(tag: str, tmp_path: Path) -> str | None:
    """Run the workflow's own guard step for refs/tags/TAG: the version it outputs, or None."""
    output = tmp_path / f"output-{abs(hash(tag))}"
    output.write_text("")
    environment = {
        **os.environ,
        "REF": f"refs/tags/{tag}",
        "GITHUB_OUTPUT": str(output),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", guard_script()],
        env=environment,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        assert done.stderr.startswith("error: "), done.stderr  # one line, not a traceback
        return None
    return output.read_text().removeprefix("version=").strip()


def rules_accept(tag: str) -> bool:
    if not tag.startswith("v"):
        return False
    try:
        parse_version(tag.removeprefix("v"))
    except ReleaseError:
        return False
    return True


TAGS = {
    "v1.2.0": True,
    "v2.0.0-rc.1": True,
    "v10.20.30": True,
    "1.2.0": False,
    "v1.2": False,
    "v1.2.0.0": False,
    "v1.2.0+build.5": False,
    "v01.2.0": False,
    "release/v1.2.0": False,
}


@pytest.mark.parametrize(("tag", "expected"), TAGS.items())
def test_the_tag_filter_and_its_guard_accept_exactly_the_release_versions(
    tag: str, expected: bool, tmp_path: Path
) -> None:
    assert rules_accept(tag) is expected
    matched = any(github_glob(pattern).fullmatch(tag) for pattern in tag_filters())
    started = matched and guard_accepts(tag, tmp_path) is not None
    assert started is expected
    if expected:
        assert guard_accepts(tag, tmp_path) == tag.removeprefix("v")


def test_the_glob_alone_lets_a_four_part_tag_through_hence_the_guard() -> None:
    (pattern,) = tag_filters()
    assert pattern == "v*.*.*"
    assert github_glob(pattern).fullmatch("v1.2.0.0")
    assert not github_glob(pattern).fullmatch("v1.2")
    assert not github_glob(pattern).fullmatch("v1/2.0.0")


PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit_with_its_version_beside(path: Path) -> None:
    text = path.read_text()
    for step in steps(load(path)):
        if "uses" in step:
            uses = str(step["uses"])
            assert PINNED.match(uses), f"{uses} is not pinned by a full commit sha"
            assert re.search(re.escape(uses) + r" # v\d+\.\d+\.\d+\n", text), f"{uses}: no # vX"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_job_states_least_privilege_permissions(path: Path) -> None:
    document = load(path)
    assert document["permissions"] == {}
    allowed = {"contents", "packages", "id-token", "attestations"}
    for name, job in document["jobs"].items():
        assert "permissions" in job, f"job {name} inherits permissions"
        assert set(job["permissions"]) <= allowed, name


def test_release_permissions_by_job() -> None:
    jobs = load(RELEASE)["jobs"]
    assert {name: job["permissions"] for name, job in jobs.items()} == {
        "version": {"contents": "read"},
        "build": {"contents": "read", "packages": "write"},
        "publish": {"contents": "read", "packages": "write"},
        "attest": {
            "contents": "read",
            "packages": "write",
            "id-token": "write",
            "attestations": "write",
        },
        "github": {"contents": "write"},
        "verify": {"contents": "read", "packages": "read"},
    }


def test_builds_run_natively_per_platform_with_full_history() -> None:
    build = load(RELEASE)["jobs"]["build"]
    assert build["runs-on"] == "${{ matrix.runner }}"
    assert [(row["platform"], row["runner"]) for row in build["strategy"]["matrix"]["include"]] == [
        ("linux/amd64", "ubuntu-24.04"),
        ("linux/arm64", "ubuntu-24.04-arm"),
    ]
    uses = [str(step.get("uses", "")) for step in build["steps"]]
    assert not any("qemu" in each for each in uses)
    (checkout,) = [step for step in build["steps"] if "actions/checkout@" in str(step.get("uses"))]
    assert checkout["with"]["fetch-depth"] == 0
    # The cache kind reaches release.build through the overrides file, outside the checkout
    # (tests/test_workflow_artifacts.py runs it).
    runs = "\n".join(str(step.get("run", "")) for step in build["steps"])
    assert "BARYCENTER_RELEASE_CONFIG=$RUNNER_TEMP/" in runs


def test_the_attestation_is_keyless_through_the_action() -> None:
    attest = load(RELEASE)["jobs"]["attest"]
    actions = [
        step for step in attest["steps"] if "attest-build-provenance" in str(step.get("uses"))
    ]
    assert [step["with"] for step in actions] == [
        {
            "subject-name": "${{ needs.publish.outputs.image }}",
            "subject-digest": "${{ needs.publish.outputs.digest }}",
            "push-to-registry": True,
        },
        # Provenance for every digest a consumer may hold: each platform's manifest too.
        *(
            {
                "subject-name": "${{ needs.publish.outputs.image }}",
                "subject-digest": f"${{{{ needs.publish.outputs.{arch}-digest }}}}",
                "push-to-registry": True,
            }
            for arch in ("amd64", "arm64")
        ),
        {
            "subject-path": "dist/v${{ needs.version.outputs.version }}/"
            "barycenter-v${{ needs.version.outputs.version }}-linux-*.tar.gz"
        },
    ]
