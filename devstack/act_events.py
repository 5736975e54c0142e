"""A workflow run that act executes, reported to the GitHub stand-in as GitHub's runners report
theirs to Actions: the run and each job, with their state and conclusion as they happen. Then
`gh run list`, `gh run watch` and `invoke release --ci` see the rehearsal's run as they would
see a real one.

act's `--json` log (one JSON object per line) names each job `WORKFLOW/JOB NAME`, with `-N`
appended to a matrix entry's name (GitHub shows the name with the matrix filled in, no
suffix); a job's end is the line carrying `jobResult`. For a matrix job act reports the
result of the whole matrix on each entry, so an entry's own conclusion is read from its steps
(any `stepResult` failure fails it), as GitHub shows each entry on its own.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class JobUpdate:
    name: str
    status: str  # in_progress, completed
    conclusion: str | None  # success, failure, cancelled, skipped; None until completed


@dataclass
class ActLog:
    """Reads act's `--json` lines and yields the job updates they mean."""

    workflow_name: str
    started: set[str] = field(default_factory=set)
    failed_steps: set[str] = field(default_factory=set)

    def job_name(self, event: dict[str, object]) -> str:
        # act pads names to align its log columns.
        name = str(event.get("job", "")).strip()
        name = name.removeprefix(self.workflow_name + "/")
        if event.get("matrix"):
            name = re.sub(r"-\d+$", "", name)
        return name

    def updates(self, line: str) -> Iterator[JobUpdate]:
        try:
            event = json.loads(line)
        except ValueError:
            return
        if not isinstance(event, dict) or "job" not in event:
            return
        name = self.job_name(event)
        if name not in self.started:
            self.started.add(name)
            yield JobUpdate(name, "in_progress", None)
        if event.get("stepResult") == "failure":
            self.failed_steps.add(name)
        result = event.get("jobResult")
        if isinstance(result, str):
            if event.get("matrix"):
                result = "failure" if name in self.failed_steps else "success"
            yield JobUpdate(name, "completed", result)

    @staticmethod
    def text(line: str) -> str:
        """act's own text line for one `--json` line (`[workflow/job] message`; a step's
        output as `[workflow/job]   | output`), so a terminal shows what act shows."""
        try:
            event = json.loads(line)
        except ValueError:
            return line.rstrip("\n")
        if not isinstance(event, dict):
            return line.rstrip("\n")
        message = str(event.get("msg", "")).rstrip("\n")
        if "job" not in event:
            return message
        if event.get("raw_output"):
            message = "  | " + message
        return f"[{str(event['job']).strip()}] {message}"

    def read(self, lines: Iterable[str]) -> Iterator[JobUpdate]:
        for line in lines:
            yield from self.updates(line)


class RunnerReports:
    """Posts a run's progress to the stand-in's runner route (`devstack.github_standin`)."""

    def __init__(self, standin_base: str, token: str, timeout: float = 10.0) -> None:
        self.base = standin_base.rstrip("/") + "/_standin/runner"
        self.token = token
        self.timeout = timeout

    def post(self, path: str, report: Mapping[str, object]) -> dict[str, object] | None:
        request = urllib.request.Request(  # noqa: S310 - the stand-in's http://127.0.0.1 URL
            self.base + path,
            data=json.dumps(report).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
            body = answer.read()
        document = json.loads(body) if body else None
        return document if isinstance(document, dict) else None

    def start(self, workflow: str, name: str, head_sha: str, head_branch: str) -> int:
        report = {"workflow": workflow, "name": name, "head_sha": head_sha}
        answer = self.post("/runs", {**report, "head_branch": head_branch, "event": "push"})
        if answer is None or not isinstance(answer.get("id"), int):
            raise RuntimeError("the stand-in did not answer a run id")
        return int(str(answer["id"]))

    def job(self, run_id: int, update: JobUpdate) -> None:
        report = {"name": update.name, "status": update.status, "conclusion": update.conclusion}
        self.post(f"/runs/{run_id}/jobs", report)

    def finish(self, run_id: int, conclusion: str) -> None:
        self.post(f"/runs/{run_id}", {"status": "completed", "conclusion": conclusion})


def report_jobs(
    lines: Iterable[str], log: ActLog, reports: RunnerReports, run_id: int,
    echo: Callable[[str], None],
) -> None:  # fmt: skip
    """Each act line is passed on to `echo`; each job update it means is reported."""
    for line in lines:
        echo(line)
        for update in log.updates(line):
            reports.job(run_id, update)
