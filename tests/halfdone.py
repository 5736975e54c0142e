"""Helpers for the never-half-done tests: template projects copied per test, hooks, and an
outcome that compares two repositories' end states across clones made at different times."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.gitrepos import Project, git, make_project


def ok(project: Project, *args: str) -> str:
    result = project.invoke(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def failed(project: Project, *args: str) -> list[str]:
    """Run a task that must fail with exit status 1 and `error:` lines only; return them."""
    result = project.invoke(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines


def hook(repo: Path, name: str, body: str) -> Path:
    """An executable hook in `repo` (a work tree or a bare repository)."""
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    path = git_dir / "hooks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def remove_hook(repo: Path, name: str) -> None:
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    (git_dir / "hooks" / name).unlink()


def released(base: Path) -> Project:
    """v1.0.0 released from main, one feature commit since, pushed; develop beside it."""
    project = make_project(base, version="0.1.0")
    ok(project, "release.prepare", "--version", "1.0.0", "--allow-empty")
    ok(project, "release.tag", "--version", "1.0.0")
    project.commit("feat: add device code flow (#45)", "src/device.txt", "device\n")
    project.push("main")
    return project


def hotfix_line(base: Path) -> Project:
    """v1.2.0 released from main; develop merged it and moved on to 1.3.0-dev.0."""
    project = make_project(base)
    project.commit("feat: authorization code flow (#40)", "src/auth.txt", "auth v1\n")
    project.push("main")
    ok(project, "release.prepare", "--version", "1.2.0")
    ok(project, "release.tag", "--version", "1.2.0")
    project.git("switch", "-q", "develop")
    project.git("merge", "-q", "--ff-only", "main")
    for name in ("Cargo.toml", "Cargo.lock"):
        text = (project.work / name).read_text()
        project.write(name, text.replace('version = "1.2.0"', 'version = "1.3.0-dev.0"'))
    project.git("commit", "-qam", "chore: start 1.3.0 development")
    project.commit("feat: device code flow (#45)", "src/device.txt", "device\n")
    project.push("develop")
    project.git("switch", "-q", "main")
    return project


def hotfix_ready(base: Path) -> Project:
    """hotfix_line, then `invoke hotfix 1.2.1` and the fix committed on hotfix/1.2.1."""
    project = hotfix_line(base)
    ok(project, "hotfix", "1.2.1")
    project.commit("fix: refuse reused authorization codes (#43)", "src/auth.txt", "auth v2\n")
    return project


def fixed_commit(project: Project, message: str, path: str, text: str) -> str:
    """A commit with a fixed date, so that two projects made apart get the same hash."""
    project.write(path, text)
    project.git("add", path)
    stamp = "@1700000000 +0000"
    env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=project.work, env=env, check=True)
    return project.git("rev-parse", "HEAD")


class Templates:
    """Each kind of project built once per session, copied for every test that needs it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[str, Path] = {}

    def copy(self, kind: Callable[[Path], Project], into: Path) -> Project:
        name = kind.__name__
        if name not in self.built:
            base = self.root / name
            base.mkdir()
            kind(base)
            self.built[name] = base
        target = into / name
        shutil.copytree(self.built[name], target, symlinks=True)
        project = Project(target / "origin.git", target / "work")
        project.git("remote", "set-url", "origin", str(project.origin))
        project.git("update-index", "-q", "--refresh", check=False)  # new inodes after the copy
        return project


HEX = re.compile(r"\b[0-9a-f]{7,40}\b")


def outcome(project: Project) -> dict[str, str]:
    """The end state, comparable across projects built at different moments: every branch and
    tag here and on the remote as the trees and subjects of its history, tag kinds and messages with
    hashes blanked, HEAD, the status and every file's content."""
    result: dict[str, str] = {}
    for where, path in (("local", project.work), ("remote", project.origin)):
        # Remote-tracking refs are left out: they cache the remote, which is compared itself,
        # and any fetch refreshes them.
        refs = git(
            path, "for-each-ref", "--format=%(refname) %(objecttype)", "refs/heads", "refs/tags"
        ).splitlines()
        for line in refs:
            ref, kind = line.split()
            history = git(path, "log", "--topo-order", "--format=%T %s", ref)
            result[f"{where} {ref}"] = f"{kind}\n{history}"
            if kind == "tag":
                message = git(path, "tag", "-l", "--format=%(contents)", ref.split("/", 2)[2])
                result[f"{where} {ref} message"] = HEX.sub("HASH", message)
    state = project.state()
    result["HEAD"] = state.head if state.head.startswith("refs/") else "detached"
    result["status"] = state.status
    for name, digest in state.files.items():
        result[f"file {name}"] = digest
    return result


def run_interrupted(
    project: Project, *args: str, on_line: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a task in its own process group, as a terminal would; when a line of its output
    contains `on_line`, send SIGINT to the whole group (Ctrl-C). Hooks may send it too."""
    import signal
    import sys

    from tests.gitrepos import REPO_ROOT

    command = [sys.executable, "-m", "invoke", "-r", str(REPO_ROOT), *args]
    command += ["--repo", str(project.work)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # As a terminal's Ctrl-C finds it: a shell's background job (CI started with `&`)
        # starts with SIGINT ignored, and Python would keep it so for the task.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    out: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        out.append(line)
        if on_line is not None and on_line in line:
            os.killpg(process.pid, signal.SIGINT)
            on_line = None
    stderr = process.stderr.read() if process.stderr else ""
    code = process.wait(timeout=timeout)
    return subprocess.CompletedProcess(command, code, "".join(out), stderr)
