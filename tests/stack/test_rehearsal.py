"""`invoke release --rehearsal` rehearses the checkout as it is now.

Each run takes the checkout's new commits into the sandbox, releases them as the next
version, and names the commit it rehearses first. A sandbox whose checkout history was
rewritten is refused, and `--fresh` (the fix the refusal names) starts over.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.rehearsal import REPOSITORY, Sandbox, stop_standin
from tests.gitrepos import REPO_ROOT, configure_identity, git


@dataclass(frozen=True)
class Rehearsal:
    """A maintainer's checkout (a clone of this repository) and the sandbox it rehearses in."""

    base: Path

    @property
    def checkout(self) -> Path:
        return self.base / "checkout"

    @property
    def sandbox(self) -> Path:
        return self.base / "sandbox"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), "release", "--rehearsal"]
        return subprocess.run(
            [*argv, *args, "--repo", str(self.checkout)],
            capture_output=True,
            text=True,
            check=False,
            timeout=1500,
            env={**os.environ, "BARYCENTER_REHEARSAL_DIR": str(self.sandbox)},
        )

    def commit(self, message: str, path: str) -> str:
        (self.checkout / path).write_text(f"{message}\n")
        git(self.checkout, "add", path)
        git(self.checkout, "commit", "-q", "-m", message)
        return git(self.checkout, "rev-parse", "HEAD")

    def sandbox_refs(self) -> str:
        return git(self.sandbox / "origin.git", "for-each-ref", "--format=%(refname) %(objectname)")

    def github_release(self, tag: str) -> dict[str, Any]:
        port = (self.sandbox / "standin-port").read_text().strip()
        token = (self.sandbox / "secrets" / "github-token").read_text().strip()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v3/repos/{REPOSITORY}/releases/tags/{tag}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - http to loopback
            document: dict[str, Any] = json.load(answer)
            return document


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    """A checkout at this repository's HEAD, rehearsed once; its stand-in stopped after."""
    rehearsal = Rehearsal(tmp_path_factory.mktemp("rehearsal"))
    git(rehearsal.base, "clone", "-q", "--no-tags", str(REPO_ROOT), str(rehearsal.checkout))
    git(rehearsal.checkout, "checkout", "-q", "-B", "main", git(REPO_ROOT, "rev-parse", "HEAD"))
    configure_identity(rehearsal.checkout)
    try:
        first = rehearsal.run()
        assert first.returncode == 0, first.stdout + first.stderr
        (rehearsal.base / "first.out").write_text(first.stdout)
        yield rehearsal
    finally:
        stop_standin(Sandbox(rehearsal.sandbox))


def test_each_rehearsal_releases_the_checkout_as_it_is_now(rehearsal: Rehearsal) -> None:
    origin = rehearsal.sandbox / "origin.git"
    first_tag = git(origin, "describe", "--tags", "--abbrev=0", "main")

    # Nothing new in the checkout: the rerun converges on the same release.
    again = rehearsal.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert git(origin, "tag", "--list", "v*").split() == [first_tag]

    # A new feature, committed; an uncommitted edit beside it.
    feature = rehearsal.commit("feat: a feature committed after the first rehearsal", "NEW.md")
    (rehearsal.checkout / "README.md").write_text("an edit not committed\n")
    third = rehearsal.run()
    assert third.returncode == 0, third.stdout + third.stderr

    lines = third.stdout.splitlines()
    assert lines[0] == (
        f"rehearsal: rehearsing the checkout {rehearsal.checkout} at {feature[:12]} "
        "(feat: a feature committed after the first rehearsal)"
    )
    assert lines[1] == (
        "rehearsal: uncommitted changes in the checkout are not rehearsed, only its commits "
        "are (README.md): commit them to rehearse them"
    )
    assert "rehearsal: took 1 new commit(s) of the checkout into the sandbox's main" in lines
    tags = git(origin, "tag", "--list", "v*", "--sort=v:refname").split()
    assert tags[0] == first_tag
    assert len(tags) == 2, tags
    new_tag = tags[1]
    # The new release holds the feature, its notes name it, and verify passed.
    git(origin, "merge-base", "--is-ancestor", feature, new_tag)
    assert (
        "a feature committed after the first rehearsal" in rehearsal.github_release(new_tag)["body"]
    )
    # The tag's release.yml ran under act, every job of act's list green, verify last; the
    # rehearsal exits 0 only when every check of verify passed; its report is printed.
    ran = [line.split() for line in lines if re.match(r"rehearsal:   [0-5] ", line)]
    assert [(row[1], row[2], row[-1]) for row in ran] == [
        ("0", "version", "succeeded"),
        ("1", "build", "succeeded"),
        ("1", "build", "succeeded"),
        ("2", "publish", "succeeded"),
        ("3", "attest", "succeeded"),
        ("4", "github", "succeeded"),
        ("5", "verify", "succeeded"),
    ]
    # The verify job's report, reprinted: its title centred over the table.
    assert [
        line
        for line in lines
        if line.startswith("rehearsal:  ") and f"release {new_tag}: post-release checklist" in line
    ]
    assert "FAILED" not in third.stdout
    git(rehearsal.checkout, "checkout", "-q", "--", "README.md")


def test_the_gh_lines_it_prints_show_the_rehearsed_release_and_its_workflow_run(
    rehearsal: Rehearsal,
) -> None:
    """The GitHub CLI's commands, pasted as printed, against the stand-in's TLS front: the
    release, its assets (checked against their SHA256SUMS), and act's run of release.yml."""
    lines = (rehearsal.base / "first.out").read_text().splitlines()
    start = lines.index(
        "rehearsal: with the GitHub CLI (the environment file holds the stand-in's token):"
    )
    pasted = [line.removeprefix("rehearsal:   ") for line in lines[start + 1 :]]
    pasted = [line for line in pasted if not line.startswith("rehearsal:")]
    assert pasted[0].startswith("set -a; . ") and " run watch " in pasted[-1]
    token = (rehearsal.sandbox / "secrets" / "github-token").read_text().strip()
    assert token not in "\n".join(lines)
    gh_bin = str(Path(sys.executable).parent)
    shell = subprocess.run(
        ["bash", "-e", "-c", "\n".join([*pasted, "gh run list --workflow=release --json "
                                          "status,conclusion,headBranch"])],
        cwd=rehearsal.base, capture_output=True, text=True, timeout=300,
        env={"PATH": f"{gh_bin}:/usr/bin:/bin", "HOME": str(rehearsal.base), "NO_COLOR": "1"},
    )  # fmt: skip
    assert shell.returncode == 0, shell.stdout + shell.stderr
    [tag] = [line.split()[3] for line in pasted if " release view " in line]
    assert f"title:\t{tag}" in shell.stdout
    assets = rehearsal.base / f"{tag}-assets"
    checked = subprocess.run(
        ["sha256sum", "--check", "SHA256SUMS"], cwd=assets, capture_output=True, text=True
    )
    assert checked.returncode == 0 and checked.stdout.count(": OK") == 2, checked.stdout
    runs = json.loads(shell.stdout[shell.stdout.rindex("[{") :])
    assert {"status": "completed", "conclusion": "success", "headBranch": tag} in runs


def test_a_rewritten_checkout_is_refused_and_fresh_starts_over(rehearsal: Rehearsal) -> None:
    before = rehearsal.sandbox_refs()
    git(rehearsal.checkout, "reset", "-q", "--hard", "HEAD~1")
    rewritten = rehearsal.commit("feat: another history", "OTHER.md")

    refused = rehearsal.run()

    assert refused.returncode == 1
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, refused.stderr
    assert errors[0].startswith("error: the sandbox rehearsed checkout commit ")
    assert f"the checkout's HEAD {rewritten[:12]} does not descend from it" in errors[0]
    assert errors[0].endswith("start a new sandbox: invoke release --rehearsal --fresh")
    assert rehearsal.sandbox_refs() == before

    fresh = rehearsal.run("--fresh")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    origin = rehearsal.sandbox / "origin.git"
    git(origin, "merge-base", "--is-ancestor", rewritten, "main")


def test_act_killed_in_the_publish_job_then_that_job_rerun_alone_converges(
    rehearsal: Rehearsal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a cancelled runner, then "Re-run failed jobs": the rehearsal is interrupted while
    act runs release.yml's publish job; `act -j publish` alone (act reruns the jobs it needs,
    which find their work done) publishes; the next rehearsal finishes that release, verify
    green."""
    from devstack.act_run import ActRun, run_act

    feature = rehearsal.commit("feat: released through a killed publish job", "KILLED.md")
    argv = [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), "release", "--rehearsal"]
    # Unbuffered: each act line reaches this test as act prints it.
    env = {
        **os.environ,
        "BARYCENTER_REHEARSAL_DIR": str(rehearsal.sandbox),
        "PYTHONUNBUFFERED": "1",
    }
    seen: list[str] = []
    with subprocess.Popen(
        [*argv, "--repo", str(rehearsal.checkout)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as interrupted:
        assert interrupted.stdout is not None
        for line in interrupted.stdout:
            seen.append(line)
            if "Publish the multi-arch index" in line and "Run Main Publish" in line:
                # Ctrl-C as a runner's cancel: the rehearsal kills act and its jobs.
                interrupted.send_signal(signal.SIGINT)
                break
        rest = interrupted.communicate(timeout=120)[0]
    assert interrupted.returncode != 0, "".join(seen) + rest
    origin = rehearsal.sandbox / "origin.git"
    tag = git(origin, "describe", "--tags", "--abbrev=0", "main")
    git(origin, "merge-base", "--is-ancestor", feature, tag)
    assert (rehearsal.sandbox / "release-in-progress").read_text().strip() == tag[1:]
    assert not [line for line in seen if "Job succeeded" in line and "Publish" in line]

    secrets = rehearsal.sandbox / "secrets"
    monkeypatch.setenv("GITHUB_TOKEN", (secrets / "github-token").read_text().strip())
    monkeypatch.setenv(
        "BARYCENTER_REHEARSAL_COSIGN_PASSWORD", (secrets / "cosign-password").read_text().strip()
    )
    monkeypatch.setenv("BARYCENTER_RELEASE_CONFIG", str(rehearsal.sandbox / "overrides.toml"))
    run = ActRun(rehearsal.sandbox / "runner", tag, rehearsal.sandbox / "act", REPOSITORY)
    run.prepare()
    rerun = run_act(run, rehearsal.sandbox / "act" / "rerun.log", job="publish", say=lambda _: None)
    results = {name: timing.result for name, timing in rerun.jobs.items()}
    assert rerun.returncode == 0, (rehearsal.sandbox / "act" / "rerun.log").read_text()[-4000:]
    assert results == {
        "The tag is a release version": "succeeded",
        "Build linux/amd64-1": "succeeded",
        "Build linux/arm64-2": "succeeded",
        "Publish the multi-arch index": "succeeded",
    }

    finished = rehearsal.run()
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert git(origin, "describe", "--tags", "--abbrev=0", "main") == tag
    assert "rehearsal:   5     verify    Verify the published release" in finished.stdout
    assert "FAILED" not in finished.stdout
    assert not (rehearsal.sandbox / "release-in-progress").exists()


def test_a_checkout_releasing_through_pull_requests_is_rehearsed_with_the_rehearsal_as_reviewer(
    rehearsal: Rehearsal,
) -> None:
    """release-via = "pull-request", committed in the checkout: the sandbox's origin protects
    main and develop as GitHub does; the rehearsal proposes, merges each pull request by the
    method asked (squash: the release commit gets a new id), continues, and release.yml's run
    verifies the release green."""
    pyproject = rehearsal.checkout / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.barycenter.release]\n",
            '[tool.barycenter.release]\nrelease-via = "pull-request"\n',
        )
    )
    git(rehearsal.checkout, "commit", "-q", "-am", "feat: releases through pull requests")

    squashed = rehearsal.run("--merge-method", "squash")

    assert squashed.returncode == 0, squashed.stdout + squashed.stderr
    lines = squashed.stdout.splitlines()
    assert (
        'rehearsal: release-via = "pull-request": the sandbox protects main and develop, and '
        "merges each pull request by squash as its reviewer (--merge-method merge, squash or "
        "rebase)"
    ) in lines
    merged = [line for line in lines if line.startswith("rehearsal: merged pull request #")]
    assert [line.split()[4] for line in merged] == ["#1", "#2"], merged
    assert lines.count("waiting for pull request #1") == 1
    origin = rehearsal.sandbox / "origin.git"
    tag = git(origin, "describe", "--tags", "--abbrev=0", "main")
    # The squash made the release commit anew on main, and the tag marks that commit.
    assert git(origin, "rev-parse", f"{tag}^{{commit}}") == git(origin, "rev-parse", "main")
    assert git(origin, "log", "-1", "--format=%s", "main") == f"chore(release): {tag} (#1)"
    assert "rehearsal:   5     verify    Verify the published release" in squashed.stdout
    assert "FAILED" not in squashed.stdout
    # main is protected in the sandbox as on GitHub: a direct push is refused.
    pushed = subprocess.run(
        ["git", "push", str(origin), f"{tag}~1:refs/heads/main", "--force"],
        cwd=Sandbox(rehearsal.sandbox).work, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert pushed.returncode != 0 and "GH006: Protected branch update failed" in pushed.stderr
