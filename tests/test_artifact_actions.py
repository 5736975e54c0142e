"""The artifact actions' path semantics that devstack/artifact_actions.py implements, each on real
files: what is uploaded under which name, where a download puts it, what attest digests."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.artifact_actions import Artifact, ArtifactError, download, subjects, upload


def files(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    files(
        tmp_path,
        "dist/v1.2.0/barycenter-v1.2.0-linux-amd64.tar.gz",
        "dist/v1.2.0/barycenter-v1.2.0-linux-arm64.tar.gz",
        "dist/v1.2.0/SHA256SUMS",
        "dist/v1.2.0/logs/build-linux-amd64.log",
        "dist/v1.2.0/.barycenter-v1.2.0-linux-amd64.tar.gz.partial",
        "dist/v1.1.0/barycenter-v1.1.0-linux-amd64.tar.gz",
    )
    return tmp_path


def stored(path: str, cwd: Path, **options: bool) -> list[str]:
    return sorted(upload("a", path, cwd, **options).artifact.files)  # type: ignore[arg-type]


def test_a_directory_is_uploaded_relative_to_itself(workspace: Path) -> None:
    assert stored("dist/v1.2.0/logs/", workspace) == ["build-linux-amd64.log"]
    assert stored("dist/v1.2.0/logs", workspace) == ["build-linux-amd64.log"]


def test_a_wildcard_is_uploaded_relative_to_its_literal_prefix(workspace: Path) -> None:
    assert stored("dist/*/barycenter-*-amd64.tar.gz", workspace) == [
        "v1.1.0/barycenter-v1.1.0-linux-amd64.tar.gz",
        "v1.2.0/barycenter-v1.2.0-linux-amd64.tar.gz",
    ]
    assert stored("dist/**/build-*.log", workspace) == ["v1.2.0/logs/build-linux-amd64.log"]


def test_a_single_literal_file_is_uploaded_as_its_name(workspace: Path) -> None:
    assert stored("dist/v1.2.0/SHA256SUMS", workspace) == ["SHA256SUMS"]


def test_several_paths_are_uploaded_relative_to_their_least_common_ancestor(
    workspace: Path,
) -> None:
    both = "dist/v1.2.0/barycenter-v1.2.0-linux-amd64.tar.gz\ndist/v1.2.0/logs/\n"
    assert stored(both, workspace) == [
        "barycenter-v1.2.0-linux-amd64.tar.gz",
        "logs/build-linux-amd64.log",
    ]
    wider = "dist/v1.2.0/SHA256SUMS\ndist/v1.1.0/\n"
    assert stored(wider, workspace) == [
        "v1.1.0/barycenter-v1.1.0-linux-amd64.tar.gz",
        "v1.2.0/SHA256SUMS",
    ]


def test_a_search_path_below_another_does_not_move_the_root(workspace: Path) -> None:
    assert (
        stored("dist/\ndist/v1.2.0/logs/", workspace)[0]
        == "v1.1.0/barycenter-v1.1.0-linux-amd64.tar.gz"
    )


def test_exclusions_apply_in_order_and_the_last_matching_line_wins(workspace: Path) -> None:
    assert stored("dist/v1.2.0/\n!dist/v1.2.0/logs/\n!dist/**/*.tar.gz", workspace) == [
        "SHA256SUMS"
    ]
    again = "dist/v1.2.0/\n!dist/**/*.tar.gz\ndist/v1.2.0/*-arm64.tar.gz"
    assert stored(again, workspace) == [
        "SHA256SUMS",
        "barycenter-v1.2.0-linux-arm64.tar.gz",
        "logs/build-linux-amd64.log",
    ]


def test_comments_and_blank_lines_are_not_patterns(workspace: Path) -> None:
    assert stored("# the sums\n\n  dist/v1.2.0/SHA256SUMS  \n", workspace) == ["SHA256SUMS"]


def test_hidden_files_are_left_out_unless_asked_for(workspace: Path) -> None:
    assert ".barycenter-v1.2.0-linux-amd64.tar.gz.partial" not in stored("dist/v1.2.0/", workspace)
    assert ".barycenter-v1.2.0-linux-amd64.tar.gz.partial" in stored(
        "dist/v1.2.0/", workspace, include_hidden_files=True
    )


def test_no_file_fails_only_with_if_no_files_found_error(workspace: Path) -> None:
    with pytest.raises(
        ArtifactError, match="No files were found with the provided path: dist/logs/"
    ):
        upload("a", "dist/logs/", workspace, if_no_files_found="error")
    assert upload("a", "dist/logs/", workspace).artifact.files == {}


def test_a_line_that_selects_nothing_is_reported_even_when_others_do(workspace: Path) -> None:
    done = upload("a", "dist/v1.2.0/SHA256SUMS\ndist/logs/\ndist/*.tar.gz", workspace)
    # dist/*.tar.gz searches dist/, an ancestor of the other lines' paths: dist/ is the root.
    assert sorted(done.artifact.files) == ["v1.2.0/SHA256SUMS"]
    assert done.unmatched == ["dist/logs/", "dist/*.tar.gz"]


@pytest.mark.parametrize("name", ["dist/amd64", "dist:amd64", "", "a*"])
def test_artifact_names_with_forbidden_characters_are_refused(workspace: Path, name: str) -> None:
    with pytest.raises(ArtifactError, match="not valid"):
        upload(name, "dist/", workspace)


STORE = {
    "dist-amd64": Artifact("dist-amd64", {"a.tar.gz": b"amd", "logs/amd.log": b"1", "SUMS": b"a"}),
    "dist-arm64": Artifact("dist-arm64", {"b.tar.gz": b"arm", "logs/arm.log": b"2", "SUMS": b"b"}),
    "provenance": Artifact("provenance", {"bundle.json": b"{}"}),
}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_named_artifact_lands_in_path_itself(tmp_path: Path) -> None:
    done = download(STORE, tmp_path, name="provenance", path="dist/v1")
    assert done.artifacts == ["provenance"]
    assert tree(tmp_path) == {"dist/v1/bundle.json": b"{}"}


def test_a_missing_named_artifact_fails(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="Artifact 'dist' not found"):
        download(STORE, tmp_path, name="dist", path="dist")


def test_a_pattern_puts_each_artifact_in_its_own_folder_unless_merged(tmp_path: Path) -> None:
    download(STORE, tmp_path / "apart", pattern="dist-*", path="dist")
    assert sorted(tree(tmp_path / "apart")) == [
        "dist/dist-amd64/SUMS",
        "dist/dist-amd64/a.tar.gz",
        "dist/dist-amd64/logs/amd.log",
        "dist/dist-arm64/SUMS",
        "dist/dist-arm64/b.tar.gz",
        "dist/dist-arm64/logs/arm.log",
    ]
    merged = download(
        STORE, tmp_path / "merged", pattern="dist-*", path="dist", merge_multiple=True
    )
    assert sorted(tree(tmp_path / "merged")) == [
        "dist/SUMS",
        "dist/a.tar.gz",
        "dist/b.tar.gz",
        "dist/logs/amd.log",
        "dist/logs/arm.log",
    ]
    # Both held SUMS: the merged folder keeps the last one's, and says so.
    assert merged.overwritten == {tmp_path / "merged/dist/SUMS": ["dist-amd64", "dist-arm64"]}
    assert (tmp_path / "merged/dist/SUMS").read_bytes() == b"b"


def test_no_name_and_no_pattern_downloads_every_artifact(tmp_path: Path) -> None:
    assert download(STORE, tmp_path).artifacts == ["dist-amd64", "dist-arm64", "provenance"]
    assert (tmp_path / "provenance/bundle.json").is_file()


def test_a_pattern_that_matches_no_artifact_downloads_nothing_and_does_not_fail(
    tmp_path: Path,
) -> None:
    assert download(STORE, tmp_path, pattern="build-*", path="dist").artifacts == []


def test_attest_subjects_are_files_from_globs_separated_by_newlines_or_commas(
    workspace: Path,
) -> None:
    found = subjects("dist/v1.2.0/*.tar.gz, dist/v1.1.0/*", workspace)
    assert [p.relative_to(workspace).as_posix() for p in found] == [
        "dist/v1.1.0/barycenter-v1.1.0-linux-amd64.tar.gz",
        "dist/v1.2.0/barycenter-v1.2.0-linux-amd64.tar.gz",
        "dist/v1.2.0/barycenter-v1.2.0-linux-arm64.tar.gz",
    ]
    # A directory's files, hidden ones included: attest skips nothing.
    assert {p.name for p in subjects("dist/v1.2.0/logs/,dist/v1.2.0/.*", workspace)} == {
        "build-linux-amd64.log",
        ".barycenter-v1.2.0-linux-amd64.tar.gz.partial",
    }
    with pytest.raises(ArtifactError, match="Could not find subject at path dist/barycenter-v"):
        subjects("dist/barycenter-v*-linux-*.tar.gz", workspace)
