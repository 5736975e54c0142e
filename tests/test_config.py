"""The release configuration in pyproject.toml: defaults, the project's own, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from release.config import DEFAULT_PLATFORMS, load_config
from release.errors import ReleaseError


def write_pyproject(directory: Path, table: str) -> Path:
    (directory / "pyproject.toml").write_text(f"[tool.barycenter.release]\n{table}\n")
    return directory


def test_the_projects_own_configuration_targets_ghcr_for_both_platforms(repo_root: Path) -> None:
    config = load_config(repo_root)
    assert config.image.startswith("ghcr.io/")
    assert config.platforms == DEFAULT_PLATFORMS
    assert config.release_branch == "main"
    assert config.dockerfile_path == repo_root / "Dockerfile"


def test_an_empty_table_gives_the_defaults(tmp_path: Path) -> None:
    config = load_config(write_pyproject(tmp_path, ""))
    assert config.platforms == ("linux/amd64", "linux/arm64")
    assert config.cache_path == tmp_path / ".build-cache"
    assert config.registry_timeout == 120


def test_values_from_the_table_override_the_defaults(tmp_path: Path) -> None:
    table = 'image = "127.0.0.1:5000/barycenter"\nplatforms = ["linux/arm64"]'
    table += "\nregistry-timeout = 30"
    config = load_config(write_pyproject(tmp_path, table))
    assert config.image == "127.0.0.1:5000/barycenter"
    assert config.platforms == ("linux/arm64",)
    assert config.registry_timeout == 30


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('imgae = "x"', "unknown key 'imgae'"),
        ('platforms = ["arm64"]', "platform 'arm64'"),
        ('platforms = ["windows/amd64"]', "platform 'windows/amd64'"),
        ("registry-timeout = 0", "registry-timeout = 0 .* is not 1 to 86400 seconds"),
        ("registry-timeout = 100000000000000000000", "registry-timeout = 1000.* is not 1 to"),
        ('registry-timeout = "2m"', "registry-timeout .* is '2m', not a whole number"),
        ("registry-timeout = -5", "registry-timeout .* is -5, not a whole number"),
    ],
)
def test_bad_configuration_is_refused_with_the_fix(
    tmp_path: Path, table: str, message: str
) -> None:
    with pytest.raises(ReleaseError, match=message) as refused:
        load_config(write_pyproject(tmp_path, table))
    assert "\n" not in str(refused.value)
    assert refused.value.fix


def test_a_missing_pyproject_names_where_to_run(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="run from the repository's top level"):
        load_config(tmp_path)
