"""The act stand-ins for upload-artifact and download-artifact (devstack/act_actions/), run by act
itself on the host (STACK.md §10): a matrix of jobs uploads, a later job downloads, as
release.yml does, and sees the real actions' layout. Their semantics, one by one, are
tests/test_artifact_actions.py's; this shows act runs them, job to job."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_workflows import PINNED, RELEASE, load

ROOT = Path(__file__).resolve().parent.parent
ACT = Path(sys.executable).parent / "act"
STAND_INS = ROOT / "devstack" / "act_actions"


def pinned(action: str) -> str:
    """release.yml's own pin of `action`: the stand-in replaces exactly what it uses."""
    for job in load(RELEASE)["jobs"].values():
        for step in job["steps"]:
            uses = str(step.get("uses", ""))
            if uses.startswith(f"actions/{action}@") and PINNED.match(uses):
                return uses
    raise AssertionError(f"release.yml uses no actions/{action}")


UPLOAD, DOWNLOAD = pinned("upload-artifact"), pinned("download-artifact")

# A and V stand for the matrix's arch and the version folder, to keep the lines short.
WORKFLOW = (
    """
name: artifacts
on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    strategy:
      matrix:
        arch: [amd64, arm64]
    steps:
      - run: |
          mkdir -p V/logs
          echo "A binary" > "V/barycenter-v1.2.0-linux-A.tar.gz"
          echo "built" > "V/logs/build-linux-A.log"
          echo "half" > "V/.barycenter-v1.2.0-linux-A.tar.gz.partial"
          echo "other" > V/notes.txt
      - uses: UPLOAD
        with:
          name: dist-A
          path: |
            V/barycenter-v1.2.0-linux-A.tar.gz
            V/logs/
            !V/notes.txt
          if-no-files-found: error
  bundle:
    runs-on: ubuntu-24.04
    steps:
      - run: |
          mkdir provenance
          echo "{}" > provenance/barycenter-v1.2.0.provenance.sigstore.json
      - uses: UPLOAD
        with:
          name: provenance
          path: provenance/
  release:
    needs: [build, bundle]
    runs-on: ubuntu-24.04
    steps:
      - uses: DOWNLOAD
        with:
          pattern: dist-*
          path: V
          merge-multiple: true
      - uses: DOWNLOAD
        with:
          name: provenance
          path: V
      - uses: DOWNLOAD
        with:
          pattern: dist-*
          path: apart
      - run: |
          find dist apart -type f -printf 'found %p\\n' | sort
""".replace("UPLOAD", UPLOAD)
    .replace("DOWNLOAD", DOWNLOAD)
    .replace("V/", "dist/v1.2.0/")
    .replace("path: V\n", "path: dist/v1.2.0\n")
    .replace("-A", "-${{ matrix.arch }}")
)

EXPECTED = [
    "apart/dist-amd64/barycenter-v1.2.0-linux-amd64.tar.gz",
    "apart/dist-amd64/logs/build-linux-amd64.log",
    "apart/dist-arm64/barycenter-v1.2.0-linux-arm64.tar.gz",
    "apart/dist-arm64/logs/build-linux-arm64.log",
    "dist/v1.2.0/barycenter-v1.2.0-linux-amd64.tar.gz",
    "dist/v1.2.0/barycenter-v1.2.0-linux-arm64.tar.gz",
    "dist/v1.2.0/barycenter-v1.2.0.provenance.sigstore.json",
    "dist/v1.2.0/logs/build-linux-amd64.log",
    "dist/v1.2.0/logs/build-linux-arm64.log",
]


def act(tmp_path: Path, workflow: str) -> subprocess.CompletedProcess[str]:
    assert ACT.is_file(), f"no act in {ACT.parent}: install the test dependency group"
    repo, store = tmp_path / "repo", tmp_path / "artifacts"
    (repo / ".github" / "workflows").mkdir(parents=True)
    store.mkdir()
    (repo / ".github" / "workflows" / "artifacts.yml").write_text(workflow)
    (tmp_path / "event.json").write_text(json.dumps({"ref": "refs/heads/main"}))
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return subprocess.run(
        [
            str(ACT),
            "push",
            "-e",
            str(tmp_path / "event.json"),
            "-P",
            "ubuntu-24.04=-self-hosted",
            "--action-offline-mode",
            "--local-repository",
            f"{UPLOAD}={STAND_INS / 'upload-artifact'}",
            "--local-repository",
            f"{DOWNLOAD}={STAND_INS / 'download-artifact'}",
            "--env",
            f"ACT_ARTIFACT_STORE={store}",
            "--env",
            f"BARYCENTER_ARTIFACT_ACTIONS={ROOT / 'devstack' / 'artifact_actions.py'}",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def found(output: str) -> list[str]:
    """The files the last job listed: act prints a step's output lines after `| `."""
    return sorted(m[1] for m in re.finditer(r"\| found (\S+)$", output, re.MULTILINE))


def test_under_act_a_later_job_gets_the_artifacts_laid_out_as_on_github(tmp_path: Path) -> None:
    done = act(tmp_path, WORKFLOW)
    assert done.returncode == 0, done.stdout[-3000:]
    assert found(done.stdout) == EXPECTED


def test_under_act_an_upload_that_finds_nothing_fails_its_job(tmp_path: Path) -> None:
    stale = WORKFLOW.replace(
        "dist/v1.2.0/barycenter-v1.2.0-linux-${{ matrix.arch }}.tar.gz\n            "
        "dist/v1.2.0/logs/\n",
        "dist/barycenter-v*-linux-${{ matrix.arch }}.tar.gz\n            dist/logs/\n",
    )
    assert stale != WORKFLOW
    done = act(tmp_path, stale)
    assert done.returncode != 0
    assert (
        "No files were found with the provided path: dist/barycenter-v*-linux-amd64.tar.gz, "
        "dist/logs/, !dist/v1.2.0/notes.txt. No artifacts will be uploaded."
    ) in done.stdout
    assert found(done.stdout) == []


@pytest.mark.parametrize("merge", ["true", "false"])
def test_under_act_a_named_download_lands_in_path_itself_whatever_merge_multiple_says(
    tmp_path: Path, merge: str
) -> None:
    named = WORKFLOW.replace(
        "          name: provenance\n          path: dist/v1.2.0\n",
        "          name: provenance\n          path: dist/v1.2.0\n"
        f"          merge-multiple: {merge}\n",
    )
    assert named != WORKFLOW
    done = act(tmp_path, named)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "dist/v1.2.0/barycenter-v1.2.0.provenance.sigstore.json" in found(done.stdout)
