"""release.yml's files through every job, without running it (tests/workflow_run.py): each
upload-artifact, download-artifact and subject-path resolved as those actions resolve paths,
against the dist/vX/ the release's own code lays out; what the tasks reading dist/ need is
there; and no job changes a tracked file.

The variants below each put back one defect this workflow once had (issue #27) or could get,
and show that the run names it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from release.config import load_config
from release.dist import write_checksums
from release.provenance import bundle_name
from release.steps.build import build_log, extract_log, metadata_path
from tests.workflow_run import (
    RELEASE_YML,
    TASKS,
    VERSION,
    Job,
    Run,
    Task,
    build_task,
    plan_in,
    run_workflow,
)

TAG = f"v{VERSION}"
AMD64 = f"barycenter-{TAG}-linux-amd64.tar.gz"
ARM64 = f"barycenter-{TAG}-linux-arm64.tar.gz"
BUNDLE = f"barycenter-{TAG}.provenance.sigstore.json"
DIST = "dist/v${{ needs.version.outputs.version }}"


def release_yml(
    tmp_path: Path, text: str | None = None, tasks: dict[str, Task] | None = None
) -> Run:
    return run_workflow(RELEASE_YML.read_text() if text is None else text, tmp_path, tasks)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return release_yml(tmp_path_factory.mktemp("release-yml"))


def test_every_artifact_path_resolves_and_every_job_finds_what_it_needs(run: Run) -> None:
    assert run.problems == []


def test_the_names_are_the_release_code_s_own(tmp_path: Path) -> None:
    """The constants this module spells out are what the plan and the build step name."""
    workspace = tmp_path / "ws"
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    (workspace / "pyproject.toml").write_text("")
    plan = plan_in(workspace)
    assert plan.dist == workspace / "dist" / TAG
    assert plan.archives == (AMD64, ARM64)
    assert bundle_name(plan.tag) == BUNDLE
    assert [
        p.relative_to(plan.dist).as_posix()
        for p in (
            build_log(plan, "linux/amd64"),
            metadata_path(plan, "linux/amd64"),
            extract_log(plan, "linux/amd64"),
        )
    ] == [
        "logs/build-linux-amd64.log",
        "logs/metadata-linux-amd64.json",
        "logs/extract-linux-amd64.log",
    ]


def logs(arch: str) -> list[str]:
    return [
        f"logs/build-linux-{arch}.log",
        f"logs/extract-linux-{arch}.log",
        f"logs/metadata-linux-{arch}.json",
    ]


def test_each_build_job_uploads_its_archive_and_logs_relative_to_dist_vx(run: Run) -> None:
    assert sorted(run.store["dist-amd64"].files) == [AMD64, *logs("amd64")]
    assert sorted(run.store["dist-arm64"].files) == [ARM64, *logs("arm64")]
    assert sorted(run.store["provenance"].files) == [BUNDLE]
    assert sorted(run.store) == ["dist-amd64", "dist-arm64", "provenance"]


def test_the_github_job_holds_dist_vx_as_one_release_build_of_both_platforms_would(
    run: Run,
) -> None:
    github = run.job("github")
    dist = github.workspace / "dist" / TAG
    found = sorted(p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file())
    assert found == sorted([AMD64, ARM64, "SHA256SUMS", BUNDLE, *logs("amd64"), *logs("arm64")])
    assert sorted(p.name for p in (github.workspace / "dist").iterdir()) == [TAG]
    # One SHA256SUMS, made where both archives are, by the release's own writer.
    expected = github.temp / "expected"
    expected.mkdir()
    for name in (AMD64, ARM64):
        (expected / name).write_bytes((dist / name).read_bytes())
    write_checksums(expected, TAG)
    assert (dist / "SHA256SUMS").read_text() == (expected / "SHA256SUMS").read_text()
    assert len((dist / "SHA256SUMS").read_text().splitlines()) == 2


def test_the_attest_job_attests_both_archives(run: Run) -> None:
    bundle = (run.job("github").workspace / "dist" / TAG / BUNDLE).read_text()
    assert [line.split("  ")[1] for line in bundle.splitlines()] == [AMD64, ARM64]


def test_no_job_changes_a_tracked_file_and_the_build_reads_its_cache_kind_from_the_overrides(
    run: Run,
) -> None:
    for arch in ("amd64", "arm64"):
        job = run.job(f"build ({arch})")
        assert "BARYCENTER_RELEASE_CONFIG" in job.env, f"{job.label} sets no overrides file"
        overrides = Path(job.env["BARYCENTER_RELEASE_CONFIG"])
        assert overrides.is_relative_to(job.temp) and not overrides.is_relative_to(job.workspace)
        assert job.configs["release.build"].cache == "gha"
        assert load_config(job.workspace).cache == "local"  # the checkout's own, unchanged
    assert not [problem for problem in run.problems if "changed" in problem]


def replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"release.yml no longer holds {old!r}"
        return text.replace(old, new)

    return edit


def sums_from_each_build(job: Job, options: dict[str, str]) -> None:
    """release.build before SHA256SUMS became its own step: each run wrote one."""
    build_task(job, options)
    plan = plan_in(job.workspace)
    write_checksums(plan.dist, plan.tag)


ARCHIVE_LINE = "barycenter-v${{ needs.version.outputs.version }}-linux-${{ matrix.arch }}.tar.gz"
STALE_UPLOAD = f"{DIST}/{ARCHIVE_LINE}\n            {DIST}/logs/\n"
DEFECTS: dict[str, tuple[Callable[[str], str], dict[str, Task], list[str]]] = {
    "the build uploads dist/'s paths from before dist/vX": (
        replace(
            STALE_UPLOAD,
            "dist/barycenter-v*-linux-${{ matrix.arch }}.tar.gz\n            dist/logs/\n",
        ),
        TASKS,
        [
            "build (amd64): actions/upload-artifact fails: No files were found with the "
            "provided path: dist/barycenter-v*-linux-amd64.tar.gz, dist/logs/. "
            "No artifacts will be uploaded.",
            "build (arm64): actions/upload-artifact fails: No files were found with the "
            "provided path: dist/barycenter-v*-linux-arm64.tar.gz, dist/logs/. "
            "No artifacts will be uploaded.",
            "attest: download pattern dist-*: no artifact uploaded before matches it",
            f"attest: actions/attest-build-provenance fails: Could not find subject at path "
            f"dist/v{VERSION}/barycenter-v{VERSION}-linux-*.tar.gz",
            "github: download pattern dist-*: no artifact uploaded before matches it",
            "github: actions/download-artifact fails: Unable to download artifact(s): Artifact "
            "'provenance' not found",
            "verify: download pattern dist-*: no artifact uploaded before matches it",
            "verify: actions/download-artifact fails: Unable to download artifact(s): Artifact "
            "'provenance' not found",
        ],
    ),
    "one upload line matches nothing while the other does": (
        replace(f"{DIST}/logs/\n", f"{DIST}/logs/\n            {DIST}/SHA256SUMS\n"),
        TASKS,
        [
            f"build (amd64): upload dist-amd64: `dist/v{VERSION}/SHA256SUMS` matches no file",
            f"build (arm64): upload dist-arm64: `dist/v{VERSION}/SHA256SUMS` matches no file",
        ],
    ),
    "attest looks for the archives in dist/": (
        replace(
            f"subject-path: {DIST}/barycenter-v",
            "subject-path: dist/barycenter-v",
        ),
        TASKS,
        [
            "attest: actions/attest-build-provenance fails: Could not find subject at path "
            f"dist/barycenter-v{VERSION}-linux-*.tar.gz",
            "github: actions/download-artifact fails: Unable to download artifact(s): Artifact "
            "'provenance' not found",
            "verify: actions/download-artifact fails: Unable to download artifact(s): Artifact "
            "'provenance' not found",
        ],
    ),
    "the github job keeps each artifact in its own folder": (
        replace(
            f"path: {DIST}\n          merge-multiple: true\n      # The bundle",
            f"path: {DIST}\n          merge-multiple: false\n      # The bundle",
        ),
        TASKS,
        [
            f"github: release.checksums finds no {AMD64}, {ARM64} in dist/v{VERSION}",
        ],
    ),
    "the provenance lands in dist/, not dist/vX/": (
        replace(
            f"name: provenance\n          path: {DIST}\n",
            "name: provenance\n          path: dist\n",
        ),
        TASKS,
        [
            f"github: release.github: no {BUNDLE} in dist/v{VERSION} (found: dist/{BUNDLE})",
            # the verify job downloads the same artifact: its asset list holds the bundle
            f"verify: release.verify: no {BUNDLE} in dist/v{VERSION}",
        ],
    ),
    "no job makes SHA256SUMS where both archives are": (
        replace(
            '        run: invoke release.checksums --version "$VERSION"\n',
            '        run: echo "no checksums"\n',
        ),
        TASKS,
        [
            f"github: release.github: dist/v{VERSION}/SHA256SUMS is missing: "
            f"run invoke release.checksums --version {VERSION}",
            f"verify: release.verify: dist/v{VERSION}/SHA256SUMS is missing: "
            f"run invoke release.checksums --version {VERSION}",
        ],
    ),
    "each build uploads its own SHA256SUMS, merged over the other's": (
        replace(f"{DIST}/logs/\n", f"{DIST}/logs/\n            {DIST}/SHA256SUMS\n"),
        {**TASKS, "release.build": sums_from_each_build},
        [
            f"attest: download pattern dist-*: dist/v{VERSION}/SHA256SUMS comes from dist-amd64 "
            "and dist-arm64; merge-multiple keeps the last one's",
            f"github: download pattern dist-*: dist/v{VERSION}/SHA256SUMS comes from dist-amd64 "
            "and dist-arm64; merge-multiple keeps the last one's",
            f"verify: download pattern dist-*: dist/v{VERSION}/SHA256SUMS comes from dist-amd64 "
            "and dist-arm64; merge-multiple keeps the last one's",
        ],
    ),
    "the cache kind is set by editing pyproject.toml": (
        replace(
            """printf 'cache = "gha"\\n' > "$RUNNER_TEMP/release-overrides.toml"
          echo "BARYCENTER_RELEASE_CONFIG=$RUNNER_TEMP/release-overrides.toml"""
            """${BARYCENTER_RELEASE_CONFIG:+:$BARYCENTER_RELEASE_CONFIG}" >> "$GITHUB_ENV"
""",
            """sed -i 's/^cache = "local"$/cache = "gha"/' pyproject.toml
          grep -qx 'cache = "gha"' pyproject.toml
""",
        ),
        TASKS,
        [
            "build (amd64): leaves the checkout changed: M pyproject.toml",
            "build (arm64): leaves the checkout changed: M pyproject.toml",
        ],
    ),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_put_back_is_named(tmp_path: Path, defect: str) -> None:
    edit, tasks, expected = DEFECTS[defect]
    assert release_yml(tmp_path, edit(RELEASE_YML.read_text()), tasks).problems == expected
