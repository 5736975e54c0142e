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
