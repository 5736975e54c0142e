"""Release.yml's files, job by job, without GitHub: where each job's steps put files, what its
artifact steps upload and download, and what the tasks that consume them find.

Each job (each matrix row) gets a workspace, a clone of this checkout when it checks out, and a
RUNNER_TEMP outside it; the jobs run in `needs` order. Its steps are taken as follows:

- `actions/upload-artifact`, `actions/download-artifact`, the `subject-path` of
  `actions/attest-build-provenance`: the actions' own path semantics (devstack/artifact_actions.py),
  against one artifact store for the run. The bundle attest writes is a file in RUNNER_TEMP,
  named by its `bundle-path` output. Other actions (checkout, setup-python, buildx, logins)
  leave no file in the workspace.
- A `run:` step calling `invoke release.X`: what that task leaves in the workspace, through the
  caller's `tasks` table (TASKS below: release's own names, writers and checks; the stack test
  runs the real build instead).
- A `run:` step calling python (pip install, the tag guard, the index digest): skipped; each
  installs the package or asks a registry, and writes nothing tracked. `needs.*.outputs` are
  given (NEEDS).
- Any other `run:` step: run with bash in the workspace, with the step's environment, GITHUB_ENV
  and GITHUB_OUTPUT honoured as the runner does.

After each job, `git status --porcelain` of its workspace must be empty.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from devstack.artifact_actions import Artifact, ArtifactError, download, subjects, upload
from release.archives import deterministic_tar_gz
from release.config import load_config
from release.dist import write_checksums
from release.git import GitRepo
from release.plan import Plan, published_image_tags, rollback_successors
from release.provenance import bundle_name
from release.steps import State
from release.steps.build import WriteChecksums, build_log, extract_log, metadata_path
from release.steps.github import checksum_problems, expected_assets
from release.version import parse_version, tag_name

ROOT = Path(__file__).resolve().parent.parent
RELEASE_YML = ROOT / ".github" / "workflows" / "release.yml"
VERSION = "1.2.0"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
NEEDS = {
    "version": {"version": VERSION},
    "publish": {
        "image": "ghcr.io/barycenter-oidc/barycenter",
        "digest": "sha256:" + "0" * 64,
        "amd64-digest": "sha256:" + "1" * 64,
        "arm64-digest": "sha256:" + "2" * 64,
    },
}


def load(text: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load(text)
    if True in document:
        document["on"] = document.pop(True)
    return document


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def plan_in(workspace: Path, platforms: tuple[str, ...] = ()) -> Plan:
    """The plan a task of the tagged workflow makes in `workspace`, for VERSION: the dist/
    layout and file names are the plan's."""
    config = load_config(workspace)
    version = parse_version(VERSION)
    return Plan(
        repo=GitRepo(workspace),
        config=config,
        flow="release",
        stages=frozenset(),
        version=version,
        tag=tag_name(version),
        previous=None,
        previous_commit=None,
        today=date(2026, 12, 3),
        epoch=1_700_000_000,
        revision=None,
        remote="origin",
        release_branch="main",
        commit_branch="main",
        tag_branch="main",
        commit_message=f"chore(release): v{VERSION}",
        develop_branch=None,
        image=config.image,
        platforms=platforms or config.platforms,
        image_tags=published_image_tags(version, set(), True),
        rollback_successors=rollback_successors(version, set(), True),
        dry_run=False,
        sign=False,
    )


@dataclass
class Job:
    """One job of the run (one matrix row), as far as its files go."""

    label: str
    workspace: Path
    temp: Path
    env: dict[str, str]
    context: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    uploaded: list[Artifact] = field(default_factory=list)
    downloaded: list[tuple[str, list[str]]] = field(default_factory=list)
    # The configuration each invoke line saw (through $BARYCENTER_RELEASE_CONFIG if set).
    configs: dict[str, Any] = field(default_factory=dict)

    # A failed step ends the job, as on the runner.
    stopped: bool = False

    def fail(self, problem: str, stop: bool = False) -> None:
        self.problems.append(f"{self.label}: {problem}")
        self.stopped = self.stopped or stop

    @contextmanager
    def environment(self) -> Iterator[None]:
        """The job's environment variables, for release code read in this process."""
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


Task = Callable[[Job, dict[str, str]], None]


def fake_binary(platform: str) -> bytes:
    return b"\x7fELF barycenter " + VERSION.encode() + b" " + platform.encode() + bytes(4096)


def build_task(job: Job, options: dict[str, str]) -> None:
    """release.build --platform P: the paths build, binaries and checksums write, from their
    own functions (the bytes are stand-ins; tests/stack runs the real build)."""
    plan = plan_in(job.workspace, (options["platform"],) if options.get("platform") else ())
    job.configs["release.build"] = plan.config
    for platform in plan.platforms:
        for log in (build_log(plan, platform), metadata_path(plan, platform)):
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(f"{log.name}\n")
        extract_log(plan, platform).write_text("extract\n")
        binary = deterministic_tar_gz(fake_binary(platform), "barycenter", plan.epoch)
        (plan.dist / plan.archive(platform)).write_bytes(binary)
    if WriteChecksums().state(plan).state is not State.SKIP:
        write_checksums(plan.dist, plan.tag)


def checksums_task(job: Job, options: dict[str, str]) -> None:
    """release.checksums: its step, on the archives the job holds (their content checks need
    the tag's commit, which this run has no build of: tests/stack runs them)."""
    plan = plan_in(job.workspace)
    step = WriteChecksums()
    missing = [name for name in plan.archives if not (plan.dist / name).is_file()]
    if missing:
        job.fail(
            f"release.checksums finds no {', '.join(missing)} in {rel(plan.dist, job)}", stop=True
        )
        return
    step.run(plan, lambda line: None)
    if (after := step.state(plan)).state is not State.DONE:
        job.fail(f"release.checksums: {after.detail}", stop=True)


def github_task(job: Job, options: dict[str, str]) -> None:
    """release.github: the files it refuses to go without, and the bundle it uploads."""
    plan = plan_in(job.workspace)
    for problem in checksum_problems(plan):
        job.fail(f"release.github: {problem.replace(str(job.workspace) + '/', '')}")
    if not expected_assets(plan)[bundle_name(plan.tag)].is_file():
        found = sorted(rel(p, job) for p in job.workspace.rglob(bundle_name(plan.tag)))
        job.fail(
            f"release.github: no {bundle_name(plan.tag)} in {rel(plan.dist, job)} "
            f"(found: {', '.join(found) or 'none'})"
        )


def nothing_in_dist(job: Job, options: dict[str, str]) -> None:
    """release.publish works in the registry alone; release.attest in Actions without a key
    file does not apply (the keyless action attests)."""


def verify_task(job: Job, options: dict[str, str]) -> None:
    """release.verify: every asset of the release in dist/vX/ to hold GitHub's against."""
    plan = plan_in(job.workspace)
    for name, path in expected_assets(plan).items():
        if not path.is_file() and name != "SHA256SUMS":  # checksum_problems names it
            job.fail(f"release.verify: no {name} in {rel(plan.dist, job)}")
    for problem in checksum_problems(plan):
        job.fail(f"release.verify: {problem.replace(str(job.workspace) + '/', '')}")


TASKS: dict[str, Task] = {
    "release.build": build_task,
    "release.checksums": checksums_task,
    "release.publish": nothing_in_dist,
    "release.attest": nothing_in_dist,
    "release.github": github_task,
    "release.verify": verify_task,
}


def rel(path: Path, job: Job) -> str:
    return path.relative_to(job.workspace).as_posix()


def evaluate(text: str, context: dict[str, Any]) -> str:
    """`${{ a.b.c }}` by name lookup in `context`; anything else is not implemented."""

    def one(match: re.Match[str]) -> str:
        value: Any = context
        for part in match[1].split("."):
            if not isinstance(value, dict) or part not in value:
                raise KeyError(f"{match[0]} is not known to this run")
            value = value[part]
        return str(value)

    return EXPRESSION.sub(one, text)


def with_inputs(step: dict[str, Any], context: dict[str, Any]) -> dict[str, str]:
    return {key: evaluate(str(value), context) for key, value in step.get("with", {}).items()}


def boolean(value: str) -> bool:
    return value.strip().lower() == "true"


@dataclass
class Run:
    jobs: list[Job]
    store: dict[str, Artifact]

    @property
    def problems(self) -> list[str]:
        return [problem for job in self.jobs for problem in job.problems]

    def job(self, label: str) -> Job:
        (found,) = [job for job in self.jobs if job.label == label]
        return found

    def manifest(self) -> str:
        """What each job uploads and downloads, file by file with sizes."""
        lines = []
        for job in self.jobs:
            for artifact in job.uploaded:
                lines.append(f"{job.label} uploads {artifact.name} ({artifact.size} bytes):")
                lines += [f"    {n} ({len(d)} bytes)" for n, d in sorted(artifact.files.items())]
            for step, written in job.downloaded:
                lines.append(f"{job.label} downloads {step}:")
                lines += [f"    {name}" for name in written]
        return "\n".join(lines)


def job_order(jobs: dict[str, Any]) -> list[str]:
    done: list[str] = []
    while len(done) < len(jobs):
        ready = [
            name
            for name, job in jobs.items()
            if name not in done and set(as_list(job.get("needs", []))) <= set(done)
        ]
        if not ready:
            raise ValueError("the jobs' needs form a cycle")
        done.append(ready[0])
    return done


def job_names(text: str) -> list[str]:
    """The jobs' names as GitHub shows them (the API's `name`), in `needs` order: each job's
    `name:` with `${{ matrix.* }}` filled in per matrix row, or its key when it has none."""
    jobs = load(text)["jobs"]
    names = []
    for key in job_order(jobs):
        spec = jobs[key]
        for row in spec.get("strategy", {}).get("matrix", {}).get("include", [{}]):
            names.append(evaluate(str(spec.get("name", key)), {"matrix": row}))
    return names


def as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def run_workflow(
    text: str, tmp: Path, tasks: dict[str, Task] | None = None, source: Path = ROOT
) -> Run:
    """Release.yml's jobs, each checking out a clone of `source`."""
    workflow = load(text)
    tasks = TASKS if tasks is None else tasks
    store: dict[str, Artifact] = {}
    jobs: list[Job] = []
    for name in job_order(workflow["jobs"]):
        spec = workflow["jobs"][name]
        rows = spec.get("strategy", {}).get("matrix", {}).get("include", [{}])
        for row in rows:
            label = f"{name} ({row['arch']})" if "arch" in row else name
            job = start_job(label, spec, row, workflow, tmp, source)
            jobs.append(job)
            for step in spec["steps"]:
                if job.stopped:
                    break
                take_step(job, step, store, tasks)
            dirty = git(job.workspace, "status", "--porcelain") if checks_out(spec) else ""
            if dirty:
                job.fail(f"leaves the checkout changed: {dirty.strip()}")
    return Run(jobs, store)


def checks_out(spec: dict[str, Any]) -> bool:
    return any("actions/checkout@" in str(step.get("uses", "")) for step in spec["steps"])


def start_job(
    label: str,
    spec: dict[str, Any],
    row: dict[str, str],
    workflow: dict[str, Any],
    tmp: Path,
    source: Path,
) -> Job:
    workspace, temp = tmp / label / "workspace", tmp / label / "temp"
    temp.mkdir(parents=True)
    if checks_out(spec):
        subprocess.run(["git", "clone", "-q", "--shared", str(source), str(workspace)], check=True)
    else:
        workspace.mkdir()
    context: dict[str, Any] = {
        "needs": {
            need: {"outputs": NEEDS.get(need, {})} for need in as_list(spec.get("needs", []))
        },
        "matrix": row,
        "runner": {"temp": str(temp)},
        "steps": {},
        "github": {"actor": "releaser", "ref": f"refs/tags/v{VERSION}"},
        "secrets": {"GITHUB_TOKEN": "token"},
    }
    env = {
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(temp),
        "HOME": os.environ.get("HOME", str(temp)),
        "PATH": os.environ["PATH"],
    }
    for scope in (workflow.get("env", {}), spec.get("env", {})):
        context["env"] = env
        env.update({key: evaluate(str(value), context) for key, value in scope.items()})
    context["env"] = env
    return Job(label, workspace, temp, env, context)


def take_step(
    job: Job, step: dict[str, Any], store: dict[str, Artifact], tasks: dict[str, Task]
) -> None:
    for unsupported in ("if", "working-directory", "shell"):
        if unsupported in step:
            raise NotImplementedError(f"{job.label}: steps with {unsupported}: are not simulated")
    uses = str(step.get("uses", ""))
    try:
        if uses.startswith("actions/upload-artifact@"):
            upload_step(job, with_inputs(step, job.context), store)
        elif uses.startswith("actions/download-artifact@"):
            download_step(job, with_inputs(step, job.context), store)
        elif uses.startswith("actions/attest-build-provenance@"):
            attest_step(job, step, with_inputs(step, job.context))
        elif "run" in step:
            run_step(job, step, tasks)
    except ArtifactError as error:
        job.fail(f"{uses.split('@')[0]} fails: {error}", stop=True)


def upload_step(job: Job, inputs: dict[str, str], store: dict[str, Artifact]) -> None:
    name = inputs.get("name", "artifact")
    if name in store:
        raise ArtifactError(f"an artifact named {name} was uploaded already in this run")
    done = upload(
        name,
        inputs["path"],
        job.workspace,
        inputs.get("if-no-files-found", "warn"),
        boolean(inputs.get("include-hidden-files", "false")),
    )
    for line in done.unmatched:
        job.fail(f"upload {name}: `{line}` matches no file")
    store[name] = done.artifact
    job.uploaded.append(done.artifact)


def download_step(job: Job, inputs: dict[str, str], store: dict[str, Artifact]) -> None:
    what = inputs.get("name") or f"pattern {inputs.get('pattern', '*')}"
    done = download(
        store,
        job.workspace,
        name=inputs.get("name", ""),
        pattern=inputs.get("pattern", ""),
        path=inputs.get("path", ""),
        merge_multiple=boolean(inputs.get("merge-multiple", "false")),
    )
    if not done.artifacts:
        job.fail(f"download {what}: no artifact uploaded before matches it")
    for path, names in done.overwritten.items():
        job.fail(
            f"download {what}: {rel(path, job)} comes from {' and '.join(names)}; "
            "merge-multiple keeps the last one's"
        )
    written = [f"{rel(p, job)} ({p.stat().st_size} bytes)" for p in sorted(done.written)]
    job.downloaded.append((f"{what} into {inputs.get('path') or '.'}", written))


def attest_step(job: Job, step: dict[str, Any], inputs: dict[str, str]) -> None:
    lines = []
    if "subject-path" in inputs:
        for subject in subjects(inputs["subject-path"], job.workspace):
            digest = hashlib.sha256(subject.read_bytes()).hexdigest()
            lines.append(f"{digest}  {subject.name}")
    bundle = job.temp / f"attestation-{len(list(job.temp.iterdir()))}.sigstore.json"
    bundle.write_text("\n".join(lines))
    if "id" in step:
        job.context["steps"][step["id"]] = {"outputs": {"bundle-path": str(bundle)}}


INVOKE = re.compile(r"^\s*invoke\s+(release\.[\w.]+)(.*)$", re.MULTILINE)


def run_step(job: Job, step: dict[str, Any], tasks: dict[str, Task]) -> None:
    script = str(step["run"])
    env = {**job.env, **{k: evaluate(str(v), job.context) for k, v in step.get("env", {}).items()}}
    called = INVOKE.search(script)
    if called:
        words = [expand(word, env) for word in shlex.split(called[2])]
        options = {
            flag.removeprefix("--"): value
            for flag, value in zip(words[::2], words[1::2], strict=True)
        }
        saved, job.env = job.env, env
        try:
            with job.environment():
                tasks[called[1]](job, options)
        finally:
            job.env = saved
        return
    if re.search(r"\bpython\b", script):
        return
    env_file, output_file = job.temp / "GITHUB_ENV", job.temp / "GITHUB_OUTPUT"
    env_file.touch()
    output_file.write_text("")
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", evaluate(script, job.context)],
        cwd=job.workspace,
        env={**env, "GITHUB_ENV": str(env_file), "GITHUB_OUTPUT": str(output_file)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        what = step.get("name", script.splitlines()[0])
        job.fail(f"step {what!r} fails: {done.stderr.strip()}", stop=True)
        return
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        job.env[key] = value
    env_file.write_text("")
    if "id" in step:
        outputs = dict(line.partition("=")[::2] for line in output_file.read_text().splitlines())
        job.context["steps"][step["id"]] = {"outputs": outputs}


def expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: env[m[1] or m[2]], value)
