"""A workflow run executed by act is reported to the GitHub stand-in job by job, so the real
gh sees it as GitHub's own: `gh run watch` follows it to its end, and a failing matrix entry
fails alone, as on GitHub."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devstack.act_events import ActLog, JobUpdate, RunnerReports, report_jobs
from devstack.gh_cli import GhTarget
from devstack.github_standin import GitHubStandIn
from tests import github_support
from tests.github_support import gh

pytestmark = pytest.mark.github

standin = github_support.standin_fixture()
gh_target = github_support.gh_target_fixture()
ACT = Path(sys.executable).parent / "act"

# The shape of release.yml: a first job, then a matrix that needs it; FAIL picks an entry to fail.
WORKFLOW = """\
name: release
on: push
jobs:
  version:
    name: The tag is a release version
    runs-on: ubuntu-24.04
    steps:
      - run: sleep 2
  build:
    name: Build ${{ matrix.platform }}
    needs: version
    runs-on: ubuntu-24.04
    strategy:
      fail-fast: false
      matrix:
        include:
          - platform: linux/amd64
          - platform: linux/arm64
    steps:
      - run: sleep 1; test "${{ matrix.platform }}" != "$FAIL"
"""


def act_run(tmp_path: Path, fail: str) -> subprocess.Popen[str]:
    assert ACT.is_file(), f"no act in {ACT.parent}: install the test dependency group"
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "release.yml").write_text(WORKFLOW)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/tags/v1.0.0"}))
    return subprocess.Popen(
        [str(ACT), "push", "-e", str(event), "-P", "ubuntu-24.04=-self-hosted", "--json",
         "--env", f"FAIL={fail}"],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@pytest.mark.parametrize(("fail", "conclusion"), [("none", "success"), ("linux/arm64", "failure")])
def test_gh_run_watch_follows_an_act_run_to_its_end(
    standin: GitHubStandIn, gh_target: GhTarget, tmp_path: Path, fail: str, conclusion: str
) -> None:
    reports = RunnerReports(standin.base, standin.token)
    run_id = reports.start("release.yml", "release", "a" * 40, "v1.0.0")
    watched: list[subprocess.CompletedProcess[str]] = []
    watcher = threading.Thread(
        target=lambda: watched.append(
            gh(gh_target, standin, "run", "watch", str(run_id), "-i", "1", "--exit-status")
        )
    )
    watcher.start()
    # act starts once gh has seen the run (its start-up is slow on a loaded machine).
    deadline = time.monotonic() + 60
    while not standin.calls_to("actions/get-workflow-run") and time.monotonic() < deadline:
        time.sleep(0.05)
    act = act_run(tmp_path, fail)
    assert act.stdout is not None
    report_jobs(act.stdout, ActLog("release"), reports, run_id, lambda line: None)
    reports.finish(run_id, "success" if act.wait(timeout=120) == 0 else "failure")
    watcher.join(timeout=60)

    [done] = watched
    assert done.returncode == (0 if conclusion == "success" else 1), done.stdout + done.stderr
    # gh saw the run going, then its end: the last refresh heads with the run's conclusion.
    assert "* v1.0.0 release · " in done.stdout, done.stdout
    last = done.stdout.rsplit(" release · ", 1)[0].rsplit("\n", 1)[-1]
    assert last == ("✓ v1.0.0" if conclusion == "success" else "X v1.0.0"), done.stdout
    viewed = gh(gh_target, standin, "run", "view", str(run_id), "--json", "jobs,conclusion")
    document = json.loads(viewed.stdout)
    assert document["conclusion"] == conclusion
    arm64 = "failure" if fail == "linux/arm64" else "success"
    assert sorted((j["name"], j["status"], j["conclusion"]) for j in document["jobs"]) == [
        ("Build linux/amd64", "completed", "success"),
        ("Build linux/arm64", "completed", arm64),
        ("The tag is a release version", "completed", "success"),
    ]


@pytest.mark.parametrize(
    ("lines", "updates"),
    [
        pytest.param(
            [
                {"job": "release/The first", "matrix": {}, "msg": "⭐ Run Set up job"},
                {"job": "release/The first", "matrix": {}, "jobResult": "success"},
            ],
            [("The first", "in_progress", None), ("The first", "completed", "success")],
            id="a job starts, then succeeds",
        ),
        pytest.param(
            [
                {"job": "release/Build a-1", "matrix": {"p": "a"}, "msg": "⭐ Run Main"},
                # act pads a name to align its columns.
                {"job": "release/Build b-2  ", "matrix": {"p": "b"}, "stepResult": "failure"},
                {"job": "release/Build b-2", "matrix": {"p": "b"}, "jobResult": "failure"},
                {"job": "release/Build a-1", "matrix": {"p": "a"}, "stepResult": "success"},
                # act gives each matrix entry the whole matrix's result: a's steps decide a's.
                {"job": "release/Build a-1", "matrix": {"p": "a"}, "jobResult": "failure"},
            ],
            [
                ("Build a", "in_progress", None),
                ("Build b", "in_progress", None),
                ("Build b", "completed", "failure"),
                ("Build a", "completed", "success"),
            ],
            id="matrix entries end on their own steps",
        ),
        pytest.param(
            [{"level": "info", "msg": "Using docker host"}, "not json"],
            [],
            id="lines about no job mean nothing",
        ),
    ],
)
def test_act_s_json_lines_mean_these_job_updates(
    lines: list[object], updates: list[tuple[str, str, str | None]]
) -> None:
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    assert list(ActLog("release").read(text)) == [JobUpdate(*u) for u in updates]


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (
            {"job": "release/The first  ", "msg": "⭐ Run Main echo hi"},
            "[release/The first] ⭐ Run Main echo hi",
        ),
        (
            {"job": "release/The first", "msg": "hi\n", "raw_output": True},
            "[release/The first]   | hi",
        ),
        ({"level": "info", "msg": "Using docker host"}, "Using docker host"),
        ("plain text", "plain text"),
    ],
)
def test_each_json_line_is_shown_as_act_shows_it(line: object, text: str) -> None:
    assert ActLog.text(line if isinstance(line, str) else json.dumps(line)) == text
