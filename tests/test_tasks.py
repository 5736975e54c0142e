"""The Invoke command line a maintainer types: namespaces, help and tasks not yet available."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INVOKE = [sys.executable, "-m", "invoke"]


def invoke(repo_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INVOKE, *args], cwd=repo_root, capture_output=True, text=True, check=False, timeout=60
    )


def test_list_shows_the_release_hotfix_and_stack_namespaces(repo_root: Path) -> None:
    listing = invoke(repo_root, "--list").stdout
    for name in (
        "release.prepare",
        "release.tag",
        "release.notes",
        "release.changelog",
        "release.build",
        "release.checksums",
        "release.publish",
        "release.github",
        "release.attest",
        "release.verify",
        "hotfix.start",
        "hotfix.finish",
        "stack.up",
        "stack.status",
        "stack.down",
    ):
        assert name in listing
    assert "release.all (release)" in listing
    assert "hotfix.start (hotfix)" in listing


def test_task_help_is_the_docstring_and_names_the_options(repo_root: Path) -> None:
    help_text = invoke(repo_root, "--help", "release.build").stdout
    assert "once per platform" in help_text
    assert "--version" in help_text
    assert "--platform" in help_text


def test_release_help_names_the_steps_it_runs_in_their_order(repo_root: Path) -> None:
    from release.pipeline import SLICES

    help_text = " ".join(invoke(repo_root, "--help", "release").stdout.split())
    assert f"every step in turn: {', '.join(SLICES['release'])}." in help_text


def test_each_task_in_the_list_is_summed_up_in_a_whole_sentence(repo_root: Path) -> None:
    """`invoke --list` shows a docstring's first line: it must not stop mid-sentence."""
    listed = invoke(repo_root, "--list").stdout.splitlines()[2:]
    summaries: list[str] = []
    for line in listed:
        if not line.strip():
            continue
        if line.startswith("  ") and not line.startswith("    "):
            summaries.append(line.split("  ", 2)[-1].strip())  # a task's own line
        else:
            summaries[-1] += " " + line.strip()
    assert summaries and all(s.endswith(".") for s in summaries), summaries
