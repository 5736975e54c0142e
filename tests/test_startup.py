"""Start-up is a feature: `invoke --list` and `invoke release.notes` import only what they use.

The heavy clients (GitHub, docker, cosign's registry, GitPython, rich tables, the OpenAPI
validator) belong to the steps that talk to those systems; importing the task list or the notes
must not pull them in. Checked by module presence in a fresh interpreter, not by timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("githubkit", "python_on_whales", "rich", "git", "openapi_core", "httpx", "pydantic")


def modules_after(statement: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> set[str]:
    """Every module (full dotted name) a fresh interpreter holds after running `statement`."""
    program = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def imported_by(statement: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages a fresh interpreter holds after running `statement`."""
    return {name.split(".")[0] for name in modules_after(statement, cwd, env)}


@pytest.mark.parametrize(
    "statement",
    [
        "import tasks",  # what `invoke --list` imports
        "import tasks\nimport release.notes",  # `invoke release.notes`
        "import tasks\nimport release.changelog_from_history",  # `invoke release.changelog`
        # every other task: the steps load their clients when they talk to the system
        "import tasks\nimport release.pipeline",
    ],
)
def test_starting_a_task_imports_no_heavy_client(statement: str) -> None:
    assert sorted(imported_by(statement) & set(HEAVY)) == []


def test_the_check_sees_a_heavy_client_when_one_is_imported() -> None:
    """The check above can fail: importing the GitHub adapter does pull githubkit in."""
    assert "githubkit" in imported_by("import release.github")


def test_notes_that_credit_people_ask_for_no_github_client_when_there_is_no_token(
    tmp_path: Path,
) -> None:
    """Credits look for a token first: with none, the notes stay offline, and looking must not
    load githubkit (0.4 s in every release.tag, release.prepare and notes run without one)."""
    git = ["git", "-C", str(tmp_path), "-c", "user.name=A", "-c", "user.email=a@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "feat: first"], check=True)
    subprocess.run([*git, "tag", "-a", "v0.1.0", "-m", "v0.1.0"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "fix: second"], check=True)
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(
        'source-url = "https://github.com/o/r"\ngithub-repository = "o/r"\n'
        'credit-people-in = ["notes"]\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    env["BARYCENTER_RELEASE_CONFIG"] = str(overrides)
    statement = (
        "from release.notes import render\n"
        "assert '- fix: second' in render(Path('.'), '', 'md'), 'the notes'"
    )
    imported = imported_by(f"from pathlib import Path\n{statement}", tmp_path, env)
    assert "release" in imported
    assert sorted(imported & set(HEAVY)) == []


# The adapters only the tagged stages and the rollback use, and those stages' modules.
TAGGED_ONLY = (
    "release.oci",
    "release.registry",
    "release.cosign",
    "release.rollback",
    "release.steps.build",
    "release.steps.publish",
    "release.steps.attest",
    "release.steps.github",
    "release.steps.check_release",
)


@pytest.mark.parametrize("task", ["release.prepare", "release.ci", "hotfix.finish"])
def test_a_task_that_stops_at_the_tag_loads_no_tagged_stage(task: str) -> None:
    """A task imports the steps of its slice only: the git side of a release, which every
    maintainer's run and most tests start, loads neither the registry nor cosign."""
    loaded = modules_after(
        f"from release.pipeline import SLICES, steps_of\nsteps_of(SLICES[{task!r}])"
    )
    assert "release.steps.prepare" in loaded
    assert sorted(loaded & set(TAGGED_ONLY)) == []


def test_the_whole_release_loads_every_stage() -> None:
    """The check above can fail: the release's slice does load the tagged stages."""
    loaded = modules_after(
        "from release.pipeline import SLICES, steps_of\nsteps_of(SLICES['release'])"
    )
    assert sorted(set(TAGGED_ONLY) - {"release.rollback"} - loaded) == []
