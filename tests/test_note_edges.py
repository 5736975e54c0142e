"""The edges of real histories: tag prefixes, versions never released, shallow clones, other
encodings, empty messages, other tools' release commits, a cache that cannot be used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import semver

from release.changelog import section_body
from release.changelog_from_history import regenerate
from release.history import cache_path
from tests.gitrepos import git
from tests.histories import History

pytestmark = pytest.mark.repo


def run(module: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m release.notes` / `release.changelog_from_history`, as a maintainer runs them."""
    return subprocess.run(
        [sys.executable, "-m", module, "--repo", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def notes(root: Path, *args: str) -> str:
    result = run("release.notes", root, *args)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return result.stdout


def refusal(module: str, root: Path, *args: str) -> str:
    result = run(module, root, *args)
    assert (result.returncode, result.stdout) == (1, ""), result.stdout + result.stderr
    return result.stderr


def configure(root: Path, settings: str, url: bool = True) -> None:
    source = 'source-url = "https://github.com/o/r"\n' if url else ""
    (root / "pyproject.toml").write_text(f"[tool.barycenter.release]\n{source}{settings}\n")


@pytest.mark.parametrize("prefix", ["v", "", "name-v", "py-"])
def test_the_tag_prefix_names_the_release_tags(tmp_path: Path, prefix: str) -> None:
    history = History(tmp_path / "repo", prefix)
    configure(history.root, f'tag-prefix = "{prefix}"')
    history.commit("chore: initial commit")
    history.tag("0.3.159")
    history.commit("feat: one")
    history.tag("0.3.160")
    history.commit("fix: unreleased")

    released = notes(history.root, "--version", "0.3.160").splitlines()
    assert released[2:4] == ["### Features", ""] and released[4].startswith("- feat: one ([")
    assert released[-1] == (
        f"**Full Changelog**: https://github.com/o/r/compare/{prefix}0.3.159...{prefix}0.3.160"
    )
    assert notes(history.root, "--version", f"{prefix}0.3.160") == notes(
        history.root, "--version", "0.3.160"
    )
    text = regenerate(history.root, full=True)
    assert section_body(text, semver.Version.parse("0.3.160")) == "\n".join(released[2:-2])
    assert text.endswith(
        f"[Unreleased]: https://github.com/o/r/compare/{prefix}0.3.160...HEAD\n"
        f"[0.3.160]: https://github.com/o/r/compare/{prefix}0.3.159...{prefix}0.3.160\n"
        f"[0.3.159]: https://github.com/o/r/releases/tag/{prefix}0.3.159\n"
    )


def test_version_tags_that_the_prefix_misses_are_refused_by_name(tmp_path: Path) -> None:
    history = History(tmp_path / "repo", "name-v")
    history.commit("chore: initial commit")
    for version in ("0.3.158", "0.3.159", "0.3.160"):
        history.commit(f"feat: {version}")
        history.tag(version)
    git(history.root, "tag", "docs-snapshot")
    (history.root / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n")
    git(history.root, "add", "CHANGELOG.md")
    git(history.root, "commit", "-q", "-m", "docs: changelog")
    expected = (
        'error: no tag matches tag-prefix "v" (v1.2.0), but 3 tags look like releases '
        "(name-v0.3.160, name-v0.3.159, name-v0.3.158): "
        'set tag-prefix = "name-v" in [tool.barycenter.release] of pyproject.toml\n'
    )

    assert refusal("release.notes", history.root) == expected
    assert refusal("release.notes", history.root, "--version", "0.3.160") == expected
    assert refusal("release.changelog_from_history", history.root, "--full") == expected
    assert (history.root / "CHANGELOG.md").read_text() == "# Changelog\n\n## [Unreleased]\n"


def test_a_repository_without_version_tags_has_everything_unreleased(tmp_path: Path) -> None:
    history = History(tmp_path / "repo")
    history.commit("feat: first")
    git(history.root, "tag", "nightly")
    assert notes(history.root) == "## What's Changed\n\n### Features\n\n- feat: first\n"


@pytest.mark.parametrize(
    ("version", "outcome"),
    [
        ("1.1.0", "### Features\n\n- feat: in 1.1.0\n"),  # an existing tag
        ("1.0.1", "### Bug Fixes\n\n- fix: on the 1.0 line\n"),  # a tag off HEAD's line
        ("2.0.0", "### Bug Fixes\n\n- fix: unreleased\n"),  # the next release
        ("1.2.0-rc.1", "### Bug Fixes\n\n- fix: unreleased\n"),  # the next pre-release
        ("1.0.5", "error: v1.0.5 was never released, and it is not above v1.1.0"),
        ("1.1.0-rc.9", "error: v1.1.0-rc.9 was never released, and it is not above v1.1.0"),
        ("0.1.0", "error: v0.1.0 was never released, and it is not above v1.1.0"),
    ],
)
def test_a_version_is_an_existing_tag_or_the_next_release(
    tmp_path: Path, version: str, outcome: str
) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.switch("release/1.0", "main")
    history.commit("fix: on the 1.0 line")
    history.tag("1.0.1")
    history.switch("main")
    history.commit("feat: in 1.1.0")
    history.tag("1.1.0")
    history.commit("fix: unreleased")

    if outcome.startswith("error: "):
        assert refusal("release.notes", history.root, "--version", version) == (
            f"{outcome}, the highest release reachable from HEAD: pass the version of an "
            "existing tag, or one above 1.1.0 for the notes of the next release\n"
        )
    else:
        assert notes(history.root, "--version", version).endswith(outcome)


@pytest.mark.parametrize("version", ["1.1.0", "2.0.0"])
def test_with_links_a_tag_and_the_next_release_have_their_notes(
    tmp_path: Path, version: str
) -> None:
    """With a source-url (Barycenter's own configuration), entries link their commits, and the
    next release's notes are read at HEAD, where its tag does not exist yet."""
    history = History(tmp_path / "repo")
    (history.root / "pyproject.toml").write_text(
        '[tool.barycenter.release]\nsource-url = "https://github.com/example/barycenter"\n'
    )
    history.run("add", "pyproject.toml")
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    in_tag = history.commit("feat: in 1.1.0")
    history.tag("1.1.0")
    unreleased = history.commit("fix: unreleased")
    sha = in_tag if version == "1.1.0" else unreleased
    subject = "feat: in 1.1.0" if version == "1.1.0" else "fix: unreleased"
    link = f"([{sha[:7]}](https://github.com/example/barycenter/commit/{sha}))"
    assert f"- {subject} {link}\n" in notes(history.root, "--version", version)


def test_a_shallow_clone_is_refused_with_the_fix(tmp_path: Path) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.commit("feat: two")
    history.tag("1.1.0")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{history.root}", str(shallow))
    expected = (
        f"error: {shallow} is a shallow clone, so release notes would miss the commits it lacks: "
        "run git fetch --unshallow --tags (in GitHub Actions: fetch-depth: 0 on checkout)\n"
    )

    assert refusal("release.notes", shallow) == expected
    assert refusal("release.notes", shallow, "--version", "1.1.0") == expected
    assert refusal("release.changelog_from_history", shallow, "--full", "--output", "-") == expected

    git(shallow, "fetch", "-q", "--unshallow", "--tags")
    assert notes(shallow, "--version", "1.1.0") == (
        "## What's Changed\n\n### Features\n\n- feat: two\n"
    )


def test_subjects_are_markdown_escaped_decoded_and_never_empty(tmp_path: Path) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.commit("fix: handle CARGO_REGISTRIES_<name>_TOKEN")
    history.commit("")
    git(history.root, "config", "i18n.commitEncoding", "ISO-8859-1")
    (tmp_path / "message").write_bytes("feat: café crème".encode("iso-8859-1"))
    history.run("commit", "-q", "--allow-empty", "-F", str(tmp_path / "message"))

    assert notes(history.root) == (
        "## What's Changed\n\n### Features\n\n- feat: café crème\n\n"
        "### Bug Fixes\n\n- fix: handle CARGO\\_REGISTRIES\\_\\<name>\\_TOKEN\n"
    )
    assert '"subject": "fix: handle CARGO_REGISTRIES_<name>_TOKEN"' in notes(
        history.root, "--format", "json"
    )
    history.tag("1.1.0")
    assert section_body(regenerate(history.root, full=True), semver.Version.parse("1.1.0")) == (
        "### Features\n\n- feat: café crème\n\n"
        "### Bug Fixes\n\n- fix: handle CARGO\\_REGISTRIES\\_\\<name>\\_TOKEN"
    )


def test_release_commits_of_other_tools_and_behind_a_hook_are_left_out(tmp_path: Path) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    for subject in (
        "chore: release 0.2.0",
        "chore(release): prepare for v2.0.4",
        "chore(main): release 17.11.1 (#2864)",
        "bump: version 4.8.0 → 4.8.1",
        "8.0.0",
        "[TICKET-1] chore(release): v1.1.0",
        "chore: release notes for the docs",
    ):
        history.commit(subject)
    history.tag("1.1.0")

    assert notes(history.root, "--version", "1.1.0") == (
        "## What's Changed\n\n### Other Changes\n\n- chore: release notes for the docs\n"
    )
    # The setting replaces the defaults; the project's own commit-message is always left out.
    configure(history.root, 'skip-commits = ["^chore: release notes"]', url=False)
    assert notes(history.root, "--version", "1.1.0") == (
        "## What's Changed\n\n### Other Changes\n\n- 8.0.0\n- bump: version 4.8.0 → 4.8.1\n"
        "- chore(main): release 17.11.1 (#2864)\n- chore(release): prepare for v2.0.4\n"
        "- chore: release 0.2.0\n"
    )
    configure(history.root, 'skip-commits = ["chore: (release"]', url=False)
    assert refusal("release.notes", history.root).startswith(
        "error: skip-commits pattern 'chore: (release' is not a regular expression (missing ), "
        "unterminated subpattern at position 7): fix it in [tool.barycenter.release]"
    )


def cached(root: Path) -> Path:
    return cache_path(root / ".git")


@pytest.mark.parametrize(
    "content", ["[]", "{}", "not json", '{"key": 1, "ranges": 2}', "\udcff"], ids=repr
)
def test_a_corrupt_cache_is_rebuilt(tmp_path: Path, content: str) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.commit("feat: two")
    history.tag("1.1.0")
    cold = regenerate(history.root, full=True, use_cache=False)
    regenerate(history.root, full=True)
    cached(history.root).write_bytes(content.encode(errors="surrogateescape"))

    assert regenerate(history.root, full=True) == cold
    assert json.loads(cached(history.root).read_text())["ranges"][0]["version"] == "1.1.0"


def test_a_git_directory_that_cannot_hold_the_cache_still_gets_notes(tmp_path: Path) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    history.tag("1.0.0")
    history.commit("feat: two")
    cold = regenerate(history.root, full=True, use_cache=False)
    # A file where the cache directory goes: mkdir fails as in a read-only .git (which root's
    # permissions would not stop).
    cached(history.root).parent.write_text("not a directory\n")

    assert regenerate(history.root, full=True) == cold
    assert notes(history.root) == "## What's Changed\n\n### Features\n\n- feat: two\n"
    assert cached(history.root).parent.read_text() == "not a directory\n"


def test_one_tag_the_prefix_misses_is_named_in_the_singular(tmp_path: Path) -> None:
    history = History(tmp_path / "repo", "name-v")
    history.commit("feat: one")
    history.tag("0.3.158")
    assert refusal("release.notes", history.root) == (
        'error: no tag matches tag-prefix "v" (v1.2.0), but 1 tag looks like a release '
        "(name-v0.3.158): "
        'set tag-prefix = "name-v" in [tool.barycenter.release] of pyproject.toml\n'
    )


@pytest.mark.parametrize("module", ["release.notes", "release.changelog_from_history"])
def test_a_repository_with_no_commit_or_an_unborn_branch_is_refused_and_the_fix_works(
    tmp_path: Path, module: str
) -> None:
    history = History(tmp_path / "repo")
    root = history.root
    args = ("--full", "--output", "-") if module != "release.notes" else ()
    assert refusal(module, root, *args) == (
        "error: the repository has no commit yet: commit the project first\n"
    )
    history.commit("feat: the first")
    git(root, "switch", "-q", "--orphan", "unborn")
    assert refusal(module, root, *args) == (
        "error: HEAD names no commit: switch to a branch that has commits: git switch main\n"
    )
    git(root, "switch", "-q", "main")
    assert "feat: the first" in run(module, root, *args).stdout


def test_a_bare_repository_whose_head_names_no_branch_is_refused_and_the_fix_works(
    tmp_path: Path,
) -> None:
    """A bare repository whose HEAD names master, where only main was pushed."""
    history = History(tmp_path / "repo")
    history.commit("feat: the first")
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "master", str(bare))
    git(history.root, "push", "-q", str(bare), "main")
    assert refusal("release.notes", bare) == (
        "error: HEAD names no commit: point HEAD at a branch that has commits: "
        "git symbolic-ref HEAD refs/heads/main\n"
    )
    git(bare, "symbolic-ref", "HEAD", "refs/heads/main")
    assert "feat: the first" in notes(bare)
