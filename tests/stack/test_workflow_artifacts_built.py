"""release.yml's files job by job (tests/workflow_run.py), with dist/vX/ laid out by really
running `invoke release.build --version X --platform P` in each build job's checkout and
`invoke release.checksums` in the github job's, on the local stack: every upload, download and
subject-path resolves against the real build's files, and the manifest printed (`pytest -s`)
lists each artifact with its real sizes.

Stand-ins, said here: the build job's `gha` cache kind is Actions-only, so its overrides file
is read and `cache = "local"` and the stack's registry image put over it; release.publish and
release.github (GitHub's side) are tests/stack/test_release_pipeline.py's, and here only what
release.github needs from dist/ is checked."""

from __future__ import annotations

import subprocess
import tomllib
import uuid
from pathlib import Path

import pytest

from release.steps.github import checksum_problems
from tests.gitrepos import configure_identity, git, invoke
from tests.stack.test_build_publish import Checkout
from tests.test_workflow_artifacts import AMD64, ARM64, BUNDLE, TAG, logs
from tests.workflow_run import (
    RELEASE_YML,
    TASKS,
    VERSION,
    Job,
    Run,
    plan_in,
    run_workflow,
)

REGISTRY = "127.0.0.1:5000"


def tagged_clone(repo_root: Path, base: Path) -> Path:
    """This repository with the release commit of VERSION tagged, as origin would have it."""
    root = base / "origin"
    git(base, "clone", "-q", str(repo_root), str(root))
    configure_identity(root)
    # A real release's tag (the steps after the push refuse any other vX).
    Checkout(root, image="").tag_release(VERSION)
    return root


def stack_overrides(job: Job, image: str) -> dict[str, str]:
    """The job's own overrides file, with the stack's registry image and the local cache."""
    own = Path(job.env["BARYCENTER_RELEASE_CONFIG"])
    table = tomllib.loads(own.read_text())
    assert table == {"cache": "gha"}, table
    local = job.temp / "stack-overrides.toml"
    local.write_text(f'image = "{image}"\ncache = "local"\n')
    return {"BARYCENTER_RELEASE_CONFIG": str(local)}


def invoked(job: Job, *args: str, env: dict[str, str] | None = None) -> None:
    done = invoke(job.workspace, *args, env=env, timeout=1800)
    if done.returncode != 0:
        job.fail(f"invoke {' '.join(args)} fails: {done.stderr.strip()}", stop=True)


@pytest.fixture(scope="module")
def run(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("workflow-built")
    image = f"{REGISTRY}/barycenter-workflow-{uuid.uuid4().hex[:8]}"

    def build(job: Job, options: dict[str, str]) -> None:
        env = stack_overrides(job, image)
        invoked(
            job,
            "release.build",
            "--version",
            options["version"],
            "--platform",
            options["platform"],
            env=env,
        )

    def checksums(job: Job, options: dict[str, str]) -> None:
        invoked(job, "release.checksums", "--version", options["version"])

    tasks = {**TASKS, "release.build": build, "release.checksums": checksums}
    return run_workflow(
        RELEASE_YML.read_text(), base / "jobs", tasks, tagged_clone(repo_root, base)
    )


def test_release_yml_moves_the_real_build_s_files_to_every_job_that_needs_them(run: Run) -> None:
    print("\n" + run.manifest())
    assert run.problems == []
    assert sorted(run.store["dist-amd64"].files) == [AMD64, *logs("amd64")]
    assert sorted(run.store["dist-arm64"].files) == [ARM64, *logs("arm64")]
    github = run.job("github")
    plan = plan_in(github.workspace)
    assert checksum_problems(plan) == []
    assert (plan.dist / BUNDLE).is_file()
    # Each build job built its own platform alone, and wrote no SHA256SUMS.
    for arch in ("amd64", "arm64"):
        dist = run.job(f"build ({arch})").workspace / "dist" / TAG
        assert sorted(p.name for p in dist.glob("*.tar.gz")) == [
            f"barycenter-{TAG}-linux-{arch}.tar.gz"
        ]
        assert not (dist / "SHA256SUMS").exists()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=github.workspace, capture_output=True, text=True
    )
    assert status.stdout == ""
