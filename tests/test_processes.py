"""Stopping a run while a program of ours runs: git, in our process group, is let clean up (its
`index.lock`, its ref locks) before it is killed, or a rerun finds the repository locked. And
reading a large output whole, whatever the program says on stderr meanwhile."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.gitrepos import REPO_ROOT, configure_identity, git
from tests.halfdone import hook

# A program that, like git, needs a moment after SIGINT to remove what it holds. `ready` says
# its trap is set and that the runner waits on it: it reads the runner's input first, which
# the runner writes from inside that wait (a Ctrl-C before it would test Python's start-up).
# Its cleanup takes a second: four times what subprocess.run would allow.
SLOW_CLEANUP = (
    "trap 'sleep {cleanup}; echo removed > {done}; exit 130' INT; "
    "read -r go; : > {ready}; while :; do sleep 0.05; done"
)

# A task body run as tasks.py runs one; invoke prints an Exit's message and exits with its code.
RUNNER = """
import sys
from invoke.exceptions import Exit
from release import commands, processes
try:
    commands.run(lambda: processes.run(["sh", "-c", sys.argv[1]], stdin=b"go\\n"))
except Exit as stopped:
    print(stopped.message, file=sys.stderr)
    sys.exit(stopped.code)
"""


def started(tmp_path: Path, cleanup: float) -> tuple[subprocess.Popen[str], Path]:
    """Our runner, in a session of its own as a terminal's job is, running the slow program;
    returns once the program's trap is set."""
    ready, done = tmp_path / "ready", tmp_path / "done"
    program = SLOW_CLEANUP.format(cleanup=cleanup, done=done, ready=ready)
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, program],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert runner.poll() is None, runner.communicate()
        assert time.monotonic() < deadline, "the program never started"
        time.sleep(0.02)
    return runner, done


def test_ctrl_c_lets_a_program_in_our_group_finish_its_cleanup(tmp_path: Path) -> None:
    runner, done = started(tmp_path, cleanup=1)
    os.killpg(runner.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
    _, stderr = runner.communicate(timeout=60)

    assert runner.returncode == 130, stderr
    assert done.read_text() == "removed\n"
    assert stderr.strip() == (
        "error: interrupted: run the same command again; it continues where it stopped"
    )


def test_sigterm_to_us_alone_passes_ctrl_c_on_to_the_program(tmp_path: Path) -> None:
    runner, done = started(tmp_path, cleanup=1)
    runner.send_signal(signal.SIGTERM)  # a CI runner cancelling the job signals our pid only
    _, stderr = runner.communicate(timeout=60)

    assert runner.returncode == 143, stderr
    assert done.read_text() == "removed\n"


def test_a_second_ctrl_c_stops_waiting_for_the_cleanup(tmp_path: Path) -> None:
    runner, done = started(tmp_path, cleanup=600)
    try:
        os.killpg(runner.pid, signal.SIGINT)
        time.sleep(0.5)  # past subprocess's own quarter second: in our wait for the cleanup
        runner.send_signal(signal.SIGINT)
        _, stderr = runner.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runner.pid, signal.SIGKILL)  # the cleanup's sleep, orphaned

    assert runner.returncode == 130, stderr
    assert not done.exists()


# Reads a program's large output as git's history reads do (to its end, then stderr): here a
# program that first says more on stderr than a pipe holds (64 KiB), then its output.
LARGE_READ = """
from release import processes
pieces = []
finished = processes.run(
    ["sh", "-c", "head -c 300000 /dev/zero | tr '\\\\0' w >&2; echo out"],
    large_output=True,
    on_output=pieces.append if {streamed} else None,
)
print((finished.stdout or b"".join(pieces)).decode().strip(), len(finished.stderr))
"""


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_large_read_ends_however_much_the_program_says_on_stderr(streamed: bool) -> None:
    read = subprocess.run(
        [sys.executable, "-c", LARGE_READ.format(streamed=streamed)],
        capture_output=True,
        text=True,
        timeout=60,  # a pipe each way deadlocks: it would never end
        cwd=REPO_ROOT,
    )

    assert read.stdout.split() == ["out", "300000"], read.stderr


# A commit through the git adapter, in a repository whose post-commit hook leaves a job
# running that holds git's stderr (as ssh's ControlPersist master does, or a hook's daemon).
HOOKED_COMMIT = """
from pathlib import Path
from release.git import GitRepo
GitRepo(Path({repo!r})).call("commit", "--allow-empty", "-q", "-m", "feat: hooked")
"""


def test_a_program_is_done_when_it_ends_though_its_child_keeps_stderr(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    configure_identity(repo)
    job = tmp_path / "job.pid"
    hook(repo, "post-commit", f"sleep 300 >/dev/null & echo $! > {job}")
    try:
        committed = subprocess.run(
            [sys.executable, "-c", HOOKED_COMMIT.format(repo=str(repo))],
            capture_output=True,
            text=True,
            timeout=60,  # waiting for stderr's end would take the job's 300 s
            cwd=REPO_ROOT,
        )
    finally:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.kill(int(job.read_text()), signal.SIGKILL)

    assert committed.returncode == 0, committed.stderr
    assert git(repo, "log", "-1", "--format=%s") == "feat: hooked"
