"""What `invoke release --rehearsal` hands act (devstack/act_run.py): every `uses:` of
release.yml mapped to one local action in devstack/act_actions/, each saying what it stands
for and what it does not emulate; secrets by name only; the jobs' environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devstack.act_run import (
    ACTIONS,
    ActOutcome,
    ActRun,
    JobTiming,
    local_actions,
    step_output,
    summary,
)
from devstack.rehearsal import act_crash
from release.errors import ReleaseError
from tests.test_workflows import RELEASE

SHA = "0123456789abcdef0123456789abcdef01234567"


def run_of(tmp_path: Path) -> ActRun:
    workspace = tmp_path / "runner"
    (workspace / ".github" / "workflows").mkdir(parents=True)
    (workspace / ".github" / "workflows" / "release.yml").write_text(RELEASE.read_text())
    return ActRun(workspace, "v1.2.0", tmp_path / "act", "owner/barycenter")


def test_every_action_release_yml_uses_has_one_local_action_that_says_what_it_stands_for() -> None:
    mapped = local_actions(RELEASE.read_text())
    used = set(re.findall(r"uses: ([\w.-]+/[\w.-]+)@", RELEASE.read_text()))
    assert {uses.partition("@")[0] for uses in mapped} == used
    assert len(used) == 9
    for uses, folder in mapped.items():
        action = uses.partition("@")[0]
        assert folder.parent == ACTIONS and folder.name == action.partition("/")[2]
        header = (folder / "action.yml").read_text().split("\nname:")[0]
        assert header.startswith(f"# A local stand-in for {action}"), folder
        assert re.search(r"[Nn]ot emulated", header), f"{folder} says not what it leaves out"


def test_an_action_without_a_local_stand_in_is_refused_naming_the_folder_to_add() -> None:
    workflow = f"jobs:\n  a:\n    steps:\n      - uses: docker/metadata-action@{SHA}\n"
    with pytest.raises(ReleaseError) as refused:
        local_actions(workflow)
    assert "release.yml uses docker/metadata-action, which has no local action" in str(
        refused.value
    )
    assert f"add {ACTIONS / 'metadata-action'}/action.yml" in str(refused.value.fix)


def test_act_gets_secrets_by_name_only_and_every_uses_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_the-token-value")
    run = run_of(tmp_path)
    argv = run.argv("publish")
    assert not [arg for arg in argv if "the-token-value" in arg]
    assert argv[argv.index("-s") + 1] == "GITHUB_TOKEN"
    assert argv[-2:] == ["-j", "publish"]
    assert "--action-offline-mode" in argv
    mapped = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--local-repository"]
    assert len(mapped) == 9
    assert all(f"={ACTIONS}/" in each for each in mapped)
    platforms = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-P"]
    assert platforms == ["ubuntu-24.04=-self-hosted", "ubuntu-24.04-arm=-self-hosted"]


def test_the_jobs_get_the_workflow_ref_and_not_the_checkouts_pythonpath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/the/maintainers/checkout")
    env = run_of(tmp_path).environment()
    assert "PYTHONPATH" not in env
    assert env["GITHUB_WORKFLOW_REF"] == (
        "owner/barycenter/.github/workflows/release.yml@refs/tags/v1.2.0"
    )
    assert env["ACT_ARTIFACT_STORE"] == str(tmp_path / "act" / "artifacts")


def test_the_closing_note_lists_acts_jobs_with_times_and_the_artifacts_moved(
    tmp_path: Path,
) -> None:
    run = run_of(tmp_path)
    run.prepare()
    run.transfers.write_text(
        "build\tupload\tdist-amd64\tbarycenter-v1.2.0-linux-amd64.tar.gz\t2048\n"
    )
    outcome = ActOutcome(
        0,
        {
            "Build linux/amd64-1": JobTiming("Build linux/amd64-1", 3.0, 45.0, "succeeded"),
            "Verify the published release": JobTiming(
                "Verify the published release", 50.0, 62.0, "failed"
            ),
        },
        62.0,
    )
    listed = [
        ("0", "version", "The tag is a release version"),
        ("1", "build", "Build ${{ matrix.platform }}"),
        ("5", "verify", "Verify the published release"),
    ]
    lines = [line.split() for line in summary(run, outcome, listed)[2:5]]
    assert lines == [
        ["0", "version", "The", "tag", "is", "a", "release", "version", "-", "not", "run"],
        ["1", "build", "Build", "linux/amd64-1", "42", "succeeded"],
        ["5", "verify", "Verify", "the", "published", "release", "12", "failed"],
    ]
    assert summary(run, outcome, listed)[-1].split() == [
        "build",
        "upload",
        "dist-amd64",
        "barycenter-v1.2.0-linux-amd64.tar.gz",
        "2,048",
    ]


def test_a_steps_output_is_read_back_from_acts_log(tmp_path: Path) -> None:
    log = tmp_path / "act.log"
    log.write_text(
        "[release/Verify the published release ] ⭐ Run Main Checksums\n"
        "[release/Verify the published release ]   | not this\n"
        "[release/Verify the published release ] ⭐ Run Main Verify\n"
        "[release/Verify the published release ]   | \x1b[3mrelease v1.2.0\x1b[0m\n"
        "[release/GitHub release ]   | another job\n"
        "[release/Verify the published release ]   | │ tag │ ok │\n"
        "[release/Verify the published release ]   ✅  Success - Main Verify\n"
    )
    assert step_output(log, "Verify", "Verify") == ["release v1.2.0", "│ tag │ ok │"]


@pytest.mark.parametrize(
    ("lines", "crash"),
    [
        (["[release/Build linux/amd64-1] ⭐ Run Set up job"], None),
        # A job's own output saying "fatal error" is the workflow's, not act's crash.
        (["[release/Build linux/amd64-1]   | fatal error: no such file"], None),
        (
            [
                "[release/Build linux/arm64-2] LocalRepositoryCache matched …",
                "fatal error: concurrent map read and map write",
                "",
                "goroutine 545 [running]:",
            ],
            "fatal error: concurrent map read and map write",
        ),
    ],
    ids=["green", "a job's words", "act crashed"],
)
def test_the_rehearsal_tells_act_crashing_from_the_workflow_failing(
    tmp_path: Path, lines: list[str], crash: str | None
) -> None:
    log = tmp_path / "act.log"
    log.write_text("\n".join(lines) + "\n")
    assert act_crash(log) == crash
