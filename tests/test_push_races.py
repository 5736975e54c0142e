"""Two maintainers release from two clones at once. Both runs prepare and tag side by side;
hooks hold each push until both are ready, then let clone A's land first, so the race's
outcome is fixed while the runs are truly concurrent up to the push.

Exactly one release results; the run that lost leaves its clone as it was, says what
happened in one line, and the advice it gives works.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.gitrepos import REPO_ROOT, Project, State, git
from tests.halfdone import Templates, hook, ok, released

pytestmark = pytest.mark.repo


def held_pushes(a: Project, b: Project, gate: Path) -> None:
    """Each clone's pre-push waits for both; B's also waits until A's push has landed."""
    wait = "i=0; while {cond} && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done"
    both = wait.format(cond=f"{{ [ ! -e {gate}/A ] || [ ! -e {gate}/B ]; }}")
    landed = wait.format(cond=f"[ ! -e {gate}/landed ]")
    hook(a.work, "pre-push", f"touch {gate}/A; {both}; exit 0")
    hook(b.work, "pre-push", f"touch {gate}/B; {both}; {landed}; exit 0")
    hook(a.origin, "post-receive", f"touch {gate}/landed")


def release_tag_at_once(
    a: Project, b: Project, version_a: str, version_b: str
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    def start(project: Project, version: str) -> subprocess.Popen[str]:
        # prepare, then tag and push, as `invoke release` runs them before its tagged part.
        script = (
            f"{sys.executable} -m invoke -r {REPO_ROOT} release.prepare --version {version} "
            f"--repo {project.work} && {sys.executable} -m invoke -r {REPO_ROOT} release.tag "
            f"--version {version} --repo {project.work}"
        )
        return subprocess.Popen(
            ["sh", "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    runs = [start(a, version_a), start(b, version_b)]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(run.args, run.returncode, out, err))
    return results[0], results[1]


def assert_unchanged(clone: Project, before: State) -> None:
    """The clone that lost the race is as it was: refs, HEAD, status, files and index."""
    after = clone.state()
    assert (after.refs, after.head, after.status, after.files, after.index) == (
        before.refs,
        before.head,
        before.status,
        before.files,
        before.index,
    )


def racing_clones(templates: Templates, tmp_path: Path) -> tuple[Project, Project]:
    """Two clones of one released project whose next pushes are held for the race."""
    a = templates.copy(released, tmp_path)
    b = a.clone("second-maintainer")
    gate = tmp_path / "gate"
    gate.mkdir()
    held_pushes(a, b, gate)
    return a, b


def test_the_same_version_from_two_clones_gives_one_release(
    templates: Templates, tmp_path: Path
) -> None:
    a, b = racing_clones(templates, tmp_path)
    b_before = b.state()

    won, lost = release_tag_at_once(a, b, "1.1.0", "1.1.0")

    assert won.returncode == 0, won.stdout + won.stderr
    assert lost.returncode == 1, lost.stdout + lost.stderr
    tagged = git(a.origin, "rev-parse", "v1.1.0^{commit}")
    assert lost.stderr.strip().splitlines() == [
        f"error: v1.1.0 was released from another clone meanwhile (origin has it on "
        f"{tagged[:12]}): nothing was pushed, and the release commit here was undone: "
        "git pull --ff-only origin main to get that release"
    ]
    assert git(a.origin, "tag", "-l", "v*") == "v1.0.0\nv1.1.0"
    assert git(a.origin, "rev-parse", "main") == tagged
    assert git(a.origin, "rev-parse", "v1.1.0") == a.git("rev-parse", "v1.1.0")
    assert_unchanged(b, b_before)

    b.git("pull", "-q", "--ff-only", "origin", "main")
    rerun = b.invoke("release.tag", "--version", "1.1.0")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "already done" in rerun.stdout
    assert git(a.origin, "rev-list", "--count", "main") == b.git("rev-list", "--count", "HEAD")


def test_two_versions_from_two_clones_both_release_one_after_the_other(
    templates: Templates, tmp_path: Path
) -> None:
    a, b = racing_clones(templates, tmp_path)
    b_before = b.state()

    won, lost = release_tag_at_once(a, b, "1.1.0", "1.2.0")

    assert won.returncode == 0, won.stdout + won.stderr
    assert lost.returncode == 1, lost.stdout + lost.stderr
    assert lost.stderr.strip().splitlines() == [
        "error: origin/main moved while releasing (someone pushed): nothing was pushed, and "
        "the release commit here was undone: git pull --ff-only origin main, then run the "
        "release again"
    ]
    assert git(a.origin, "tag", "-l", "v*") == "v1.0.0\nv1.1.0"
    assert_unchanged(b, b_before)

    (b.work / ".git" / "hooks" / "pre-push").unlink()
    b.git("pull", "-q", "--ff-only", "origin", "main")
    b.commit("feat: pushed-authorization requests (#47)")
    b.push("main")
    ok(b, "release.prepare", "--version", "1.2.0")
    ok(b, "release.tag", "--version", "1.2.0")
    assert git(a.origin, "tag", "-l", "v*") == "v1.0.0\nv1.1.0\nv1.2.0"
    assert git(a.origin, "merge-base", "--is-ancestor", "v1.1.0", "v1.2.0") == ""
    assert b.version("v1.2.0") == "1.2.0"
