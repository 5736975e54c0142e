"""Nox sessions: `nox --list`. Python versions and dependency groups come from pyproject.toml."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests", "lint"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON_VERSIONS = nox.project.python_versions(PYPROJECT)
LINTED = ["release", "devstack", "tasks.py", "noxfile.py", "tests"]
WORKFLOWS = [".github/workflows/ci.yml", ".github/workflows/release.yml"]


@nox.session(python=PYTHON_VERSIONS)
def tests(session: nox.Session) -> None:
    """pytest, every test; those marked `stack` (e2e included) bring the stack up themselves
    (`-- -m "not stack"` skips them). Without arguments: the stack tests two files at a time,
    the longest first (they share one engine and registry, and their build caches, taking
    turns: tests/conftest.py), with the tests that need no stack beside them at a lower
    priority (tests/side_by_side.py)."""
    session.install("-e", ".[rehearsal]", *nox.project.dependency_groups(PYPROJECT, "test"))
    if session.posargs:
        session.run("pytest", *session.posargs)
        return
    session.run("python", "tests/side_by_side.py")


@nox.session(python=PYTHON_VERSIONS[0])
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, mypy --strict, actionlint over the workflows."""
    session.install("-e", ".[rehearsal]", *nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    session.run("mypy", "--strict", *LINTED)
    # actionlint runs shellcheck over the run: scripts when shellcheck is on PATH.
    session.run("actionlint", "-color=false", *WORKFLOWS)


@nox.session(python=PYTHON_VERSIONS[0])
def e2e(session: nox.Session) -> None:
    """1.0.0, 1.1.0, hotfix 1.0.1, 1.2.0-rc.1, 1.2.0 in one sandbox on the stack: kills, reruns,
    verify, status, a dry run and a rollback."""
    session.install("-e", ".[rehearsal]", *nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("pytest", "-m", "e2e", "tests/e2e", *session.posargs)


@nox.session(python=False)
def rust(session: nox.Session) -> None:
    """cargo fmt --check, cargo clippy -D warnings, cargo test."""
    session.run("cargo", "fmt", "--check", external=True)
    session.run(
        "cargo", "clippy", "--locked", "--all-targets", "--", "-D", "warnings", external=True
    )
    session.run("cargo", "test", "--locked", external=True)


@nox.session(python=PYTHON_VERSIONS[0], default=False)
def bench(session: nox.Session) -> None:
    """Notes and changelog on 5k/50k-commit histories beside git-cliff and git log."""
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "bench"))
    session.run("python", "tests/bench/notes_bench.py", *session.posargs)


@nox.session(python=PYTHON_VERSIONS[0])
def dockerfile(session: nox.Session) -> None:
    """hadolint over the Dockerfile."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "dockerfile"))
    session.run("hadolint", "Dockerfile")
