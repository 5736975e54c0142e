"""Shared fixtures. Tests marked `stack` run against the real local release stack."""

from __future__ import annotations

import compileall
import os
import shutil
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.engine_turns import TurnKind, Turns
from tests.halfdone import Templates

REPO_ROOT = Path(__file__).resolve().parent.parent

# The test files in the order they are collected: the longest first, with seconds per file as
# .ci/run's summary printed them (stack files: CI of 3b75a66). The stack suite runs two files at
# a time in `nox -s tests`, handed out in this order (`--no-loadscope-reorder`), after the
# `alone` files.
FILES_LONGEST_FIRST = (
    "tests/stack/test_rehearsal.py",  # 582 s
    "tests/stack/test_fault_matrix.py",  # 481 s
    "tests/test_interrupted.py",  # 305 s
    "tests/stack/test_release_through_pull_requests.py",  # 265 s
    "tests/stack/test_reproduce.py",  # 219 s
    "tests/e2e/test_release_sequence.py",  # 218 s
    "tests/test_release_pull_request.py",  # 208 s
    "tests/stack/test_verify_tamper.py",  # 172 s
    "tests/stack/test_user_rehearsal.py",  # 162 s
    "tests/stack/test_dockerfile_builds.py",  # 112 s
    "tests/test_release_flow.py",  # 93 s
    "tests/stack/test_release_races.py",  # 92 s
    "tests/stack/test_release_pipeline.py",  # 81 s
    "tests/test_stray_tags.py",  # 80 s
    "tests/stack/test_secrets_canary.py",  # 62 s
    "tests/stack/test_publish_policy.py",  # 59 s
    "tests/stack/test_build_publish.py",  # 51 s
    "tests/stack/test_machine_refusals.py",  # 51 s
    "tests/stack/test_workflow_artifacts_built.py",  # 34 s
    "tests/stack/test_attest.py",  # 14 s
)

# The files marked `alone`: they prune or watch what all share (the engine's build cache, the
# machine's files) and hold the engine alone from their first test to their last. pytest-xdist
# hands them out as one unit of work, first: one worker runs them back to back, holding the
# engine throughout, while the other waits once, at the start, when the suite that needs no
# stack, run beside, takes the core it leaves. Handed out file by file, an `alone` file could
# reach a worker just after the other had started a long file, and wait for its running test.
ALONE_FILES = (
    "tests/stack/test_reproduce.py",
    "tests/stack/test_user_rehearsal.py",
    "tests/stack/test_dockerfile_builds.py",
)
ALONE_UNIT = "the alone files"


def work_unit(nodeid: str) -> str:
    """The unit of work pytest-xdist's loadfile hands out whole that a test belongs to: its
    file, or the one unit of every `alone` file."""
    path = nodeid.split("::", 1)[0]
    return ALONE_UNIT if path in ALONE_FILES else path


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> object:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class AloneFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return AloneFilesTogether(config, log)


def pytest_configure(config: pytest.Config) -> None:
    """The releases under test log in to their registries (`docker login`, as a maintainer's
    release does): those logins go to a docker config of this run's own, removed after it,
    never into the maintainer's ~/.docker/config.json. Tests that look at the login stored set
    DOCKER_CONFIG themselves."""
    folder = tempfile.mkdtemp(prefix="barycenter-docker-config-")
    os.environ["DOCKER_CONFIG"] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    if not hasattr(config, "workerinput"):  # once, in the process that starts the workers
        compile_bytecode()


def compile_bytecode() -> None:
    """The bytecode of every module the tests' processes import, written before they start.
    invoke never writes any (its Program sets sys.dont_write_bytecode unless --write-pyc), and
    PYTHONDONTWRITEBYTECODE stops pytest's own imports writing it: each `invoke` a test runs
    would otherwise compile release/ anew, 90 ms of release.prepare's 430 ms (farm-bench)."""
    for folder in ("release", "devstack", "tests"):
        compileall.compile_dir(REPO_ROOT / folder, quiet=1)
    compileall.compile_file(REPO_ROOT / "tasks.py", quiet=1)


@pytest.hookimpl(tryfirst=True)  # marked before `-m` selects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(("tests/stack/", "tests/e2e/")):
            item.add_marker(pytest.mark.stack)
        path = item.nodeid.split("::", 1)[0]
        if (item.get_closest_marker("alone") is not None) != (path in ALONE_FILES):
            raise pytest.UsageError(
                f"{path}: a file is marked `alone` exactly when tests/conftest.py's ALONE_FILES "
                "names it: add or remove the one that is missing"
            )

    def order(item: pytest.Item) -> tuple[bool, int, bool]:
        path = item.nodeid.split("::", 1)[0]
        rank = (
            FILES_LONGEST_FIRST.index(path)
            if path in FILES_LONGEST_FIRST
            else len(FILES_LONGEST_FIRST)
        )
        # The files that must run alone are collected first, so go out first: while one holds
        # the engine, the other stack worker waits, and the suite that needs no stack, run
        # beside, uses the core it leaves.
        alone = item.get_closest_marker("alone") is not None
        # A test that restarts the engine goes last in its file, not last in the session: the
        # file's session-scoped reference release must still match what its rerun builds, and
        # later stack files (test_reproduce re-pins the base images) would change that.
        return (not alone, rank, item.get_closest_marker("restarts_engine") is not None)

    items.sort(key=order)  # stable: the other files, and each file's tests, in their order


ENGINE_TURNS = Turns()


def pytest_collection_finish(session: pytest.Session) -> None:
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is not None and any(i.get_closest_marker("alone") for i in session.items):
        ENGINE_TURNS.alone_first(workerinput["testrunuid"])


def pytest_unconfigure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        ENGINE_TURNS.forget(workerinput["testrunuid"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """A stack test holds a turn on the engine from its set-up to its tear-down: a shared one,
    the only one if it restarts the engine, or, for the `alone` files, the only one from the
    first of their tests to the last (tests/engine_turns.py)."""
    if item.get_closest_marker("stack") is None:
        return (yield)
    kind: TurnKind = (
        "alone"
        if item.get_closest_marker("alone")
        else "exclusive"
        if item.get_closest_marker("restarts_engine")
        else "shared"
    )
    next_is_alone = nextitem is not None and nextitem.get_closest_marker("alone") is not None
    with ENGINE_TURNS.around(kind, next_is_alone):
        return (yield)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def cargo_version() -> str:
    manifest = tomllib.loads((REPO_ROOT / "Cargo.toml").read_text())
    return str(manifest["package"]["version"])


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """Each kind of git project (tests/halfdone.py) built once, copied for every test."""
    return Templates(tmp_path_factory.mktemp("templates"))


# Each test file's time (set-up, call and tear-down of its tests), printed at the end of every
# run with pytest's ten slowest tests (--durations in pyproject.toml): the CI budget, visible.
# Beside it, the worker that ran the file and when, in seconds since the run started (when the
# first and the last of its reports arrived): where two workers left a core idle shows.
FILE_SECONDS: dict[str, float] = {}
FILE_SPAN: dict[str, tuple[str, float, float]] = {}
RUN_STARTED = time.monotonic()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    FILE_SECONDS[path] = FILE_SECONDS.get(path, 0.0) + report.duration
    node = getattr(report, "node", None)  # xdist's worker, on the process that started them
    worker = getattr(getattr(node, "gateway", None), "id", "")
    now = time.monotonic() - RUN_STARTED
    _, first, _ = FILE_SPAN.get(path, (worker, now - report.duration, now))
    FILE_SPAN[path] = (worker, first, now)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report_matrix(terminalreporter)
    if not FILE_SECONDS:
        return
    terminalreporter.write_sep("=", "seconds per test file (summed over workers)")
    for path, seconds in sorted(FILE_SECONDS.items(), key=lambda item: -item[1]):
        worker, first, last = FILE_SPAN[path]
        span = f"  {worker or 'ran'} {first:.0f}-{last:.0f} s" if seconds >= 1 else ""
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}{span}")


def report_matrix(terminalreporter: pytest.TerminalReporter) -> None:
    """The Ctrl-C matrix (tests/test_interrupted.py) reports its size and how many converge."""
    name = "test_interrupted_then_rerun_converges["
    outcomes: dict[str, str] = {}
    for key in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(key, []):
            nodeid = getattr(report, "nodeid", "")
            if name in nodeid and (report.when == "call" or key != "passed"):
                outcomes[nodeid] = (
                    key if outcomes.get(nodeid) in (None, "passed") else outcomes[nodeid]
                )
    if not outcomes:
        return
    hooks = sum(1 for nodeid in outcomes if "|hook|" in nodeid)
    converged = sum(1 for key in outcomes.values() if key == "passed")
    terminalreporter.write_line(
        f"Ctrl-C matrix: {len(outcomes)} points run ({hooks} inside git's hooks, "
        f"{len(outcomes) - hooks} at step boundaries); {converged} converged on rerun"
    )
