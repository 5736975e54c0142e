"""The release configuration in pyproject.toml: defaults, the project's own, and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from release.config import DEFAULT_PLATFORMS, check_image_repository, load_config
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


def test_a_missing_pyproject_names_the_repository_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="pass --repo the top level of Barycenter's checkout"):
        load_config(tmp_path)


def test_a_repository_without_pyproject_still_takes_the_overrides_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """release.notes reads any repository (missing_ok): one with no pyproject.toml gets the
    defaults, and what $BARYCENTER_RELEASE_CONFIG says over them, as everywhere else."""
    assert load_config(tmp_path, missing_ok=True).tag_prefix == "v"
    overrides = tmp_path / "overrides.toml"
    overrides.write_text('tag-prefix = "release-plz-v"\n')
    monkeypatch.setenv("BARYCENTER_RELEASE_CONFIG", str(overrides))
    assert load_config(tmp_path, missing_ok=True).tag_prefix == "release-plz-v"
    assert load_config(tmp_path, missing_ok=True, committed=b"").tag_prefix == "release-plz-v"


def test_overrides_files_are_layered_in_order_the_later_winning_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = write_pyproject(tmp_path, 'image = "ghcr.io/o/barycenter"\ncache = "local"')
    workflow, runner = tmp_path / "workflow.toml", tmp_path / "runner.toml"
    workflow.write_text('cache = "gha"\nregistry-timeout = 30\n')
    runner.write_text('cache = "local"\nimage = "127.0.0.1:5000/barycenter"\n')
    monkeypatch.setenv("BARYCENTER_RELEASE_CONFIG", f"{workflow}{os.pathsep}{runner}")
    config = load_config(repo)
    assert (config.cache, config.image, config.registry_timeout) == (
        "local",
        "127.0.0.1:5000/barycenter",
        30,
    )
    monkeypatch.setenv("BARYCENTER_RELEASE_CONFIG", str(workflow))
    assert load_config(repo).cache == "gha"


def test_an_unreadable_overrides_file_among_several_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = write_pyproject(tmp_path, "")
    good = tmp_path / "good.toml"
    good.write_text('cache = "gha"\n')
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("BARYCENTER_RELEASE_CONFIG", f"{good}{os.pathsep}{missing}")
    with pytest.raises(ReleaseError) as refused:
        load_config(repo)
    assert f"names {missing}, which cannot be read as TOML" in str(refused.value)


@pytest.mark.parametrize("value", ["pr", "pull_request", "Push"])
def test_an_unknown_release_via_names_the_allowed_values_and_the_file(
    tmp_path: Path, value: str
) -> None:
    repo = write_pyproject(tmp_path, f'release-via = "{value}"')
    with pytest.raises(ReleaseError) as refused:
        load_config(repo)
    assert str(refused.value) == (
        f"release-via = {value!r} in [tool.barycenter.release] of {repo / 'pyproject.toml'} is "
        'unknown: write release-via = "push" or release-via = "pull-request" there'
    )


def test_an_unknown_value_from_an_overrides_file_names_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = write_pyproject(tmp_path, 'release-via = "push"')
    runner = tmp_path / "runner.toml"
    runner.write_text('release-via = "merge-request"\n')
    monkeypatch.setenv("BARYCENTER_RELEASE_CONFIG", str(runner))
    with pytest.raises(ReleaseError, match=f"of {runner} \\(named by \\$BARYCENTER_RELEASE"):
        load_config(repo)


@pytest.mark.parametrize(
    ("image", "usable"),
    [
        ("ghcr.io/barycenter-oidc/barycenter", True),
        ("127.0.0.1:5000/barycenter-rehearsal-1a2b3c4d", True),
        ("localhost:5000/a/b/c", True),
        ("[::1]:5000/barycenter", True),
        ("barycenter", True),  # Docker Hub's library/barycenter
        ("registry.example.org/team/bary__center.x", True),
        ("127.0.0.1:5000/hb:tag", False),  # a tag: the release adds its own
        ("ghcr.io/barycenter-oidc/barycenter@sha256:" + "0" * 64, False),
        ("127.0.0.1:5000/UPPER", False),
        ("bad image!", False),
        ("ghcr.io/barycenter-oidc/", False),
        ("ghcr.io//barycenter", False),
        ("-ghcr.io/barycenter", False),
        ("ghcr.io/" + "a" * 250, False),
        ("", False),
    ],
)
def test_the_image_is_an_image_repository(image: str, usable: bool) -> None:
    if usable:
        check_image_repository(image, "--image")
        return
    with pytest.raises(ReleaseError) as refused:
        check_image_repository(image, "--image")
    assert str(refused.value) == (
        f"--image {image!r} is not an image repository: write it as HOST[:PORT]/PATH, the path "
        "in lowercase, with no tag nor digest (the release adds its own), e.g. "
        "ghcr.io/barycenter-oidc/barycenter"
    )
