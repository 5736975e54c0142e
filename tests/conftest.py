"""Shared fixtures. Tests marked `stack` run against the real local release stack."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.halfdone import Templates

REPO_ROOT = Path(__file__).resolve().parent.parent


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
FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    FILE_SECONDS[path] = FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report_matrix(terminalreporter)
    if not FILE_SECONDS:
        return
    terminalreporter.write_sep("=", "seconds per test file (summed over workers)")
    for path, seconds in sorted(FILE_SECONDS.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")


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
