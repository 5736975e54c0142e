"""`invoke release.changelog`: CHANGELOG.md sections regenerated from the conventional commits.

Each release's section is built from the same range as `release.notes --version X`, so the two
always list the same commits.
"""

from __future__ import annotations

import contextlib
import gc
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from release import changelog
from release.config import load_config
from release.errors import ReleaseError
from release.git import read
from release.history import (
    Range,
    Release,
    committed_file,
    full_history,
    is_bare,
    toplevel,
)
from release.notes import entry, from_range, group_sections, groups_of

COMMIT_LINK = re.compile(r"/commit/([0-9a-f]{40})\)\)$")


def generated_by(ranges: Sequence[Range], url: str) -> Callable[[str], bool]:
    """Whether a changelog line is an entry this tool renders for a commit of the history, as
    it is now or with a link to one of its commits (so a hand-written line is told apart)."""
    known: set[str] = set()
    shas: set[str] = set()

    def test(line: str) -> bool:
        if not line.startswith("- "):
            return False
        if not shas:
            for found in ranges:
                shas.update(commit.sha for commit in found.commits)
                known.update(entry(commit, url) for commit in found.commits)
        link = COMMIT_LINK.search(line)
        return line in known or (link is not None and link[1] in shas)

    return test


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off: a history makes hundreds of thousands of objects
    (a 50k-commit one) and not one cycle, which the collector would scan time and again, a
    tenth of the whole run."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@collector_paused()
def regenerate(root: Path, full: bool, use_cache: bool = True) -> str:
    """The changelog with every release tag's section: all rebuilt with `full` (hand-written
    Unreleased entries and the sections of versions without a tag kept), else only the missing
    ones added (hand-written sections are kept)."""
    bare = is_bare(root)
    config = load_config(
        root, missing_ok=True, committed=committed_file(root, "pyproject.toml") if bare else None
    )
    groups = groups_of(config)
    ranges = full_history(root, use_cache=use_cache, prefix=config.tag_prefix)
    sections: list[tuple[Release, Release | None, str]] = []
    unreleased, unreleased_previous = "", None
    for found in ranges:
        body = group_sections(from_range(found, groups), config.source_url)
        if found.release is None:
            unreleased, unreleased_previous = body, found.previous
        else:
            sections.append((found.release, found.previous, body))
    if bare:
        committed = committed_file(root, "CHANGELOG.md")
        text = committed.decode("utf-8", errors="replace") or read_changelog(root / "CHANGELOG.md")
    else:
        text = read_changelog(root / "CHANGELOG.md")
    if full:
        return changelog.rebuilt(
            text,
            sections,
            unreleased,
            config.source_url,
            unreleased_previous,
            generated_by(ranges, config.source_url),
            groups.order,
        )
    return changelog.with_missing_releases(text, sections, config.source_url, config.tag_prefix)


def read_changelog(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return changelog.DEFAULT_PREAMBLE + "\n## [Unreleased]\n"
    except (OSError, UnicodeDecodeError) as error:
        raise ReleaseError(f"cannot read {path} ({error})", "make it a UTF-8 text file") from None


def refuse_uncommitted(root: Path, target: Path) -> None:
    """A rebuild replaces the file: refuse while it holds changes that git does not have."""
    inside = target.resolve().is_relative_to(root.resolve())
    if not inside or not target.exists():
        return
    status = read(
        root, "status", "--porcelain", "--untracked-files=all", "--", str(target.resolve())
    )
    if status.strip():
        raise ReleaseError(
            f"{target.name} has uncommitted changes that --full would overwrite",
            "commit or stash them first, or pass --force to overwrite them",
        )


def write(root: Path, full: bool, output: str, use_cache: bool = True, force: bool = False) -> None:
    root = toplevel(root)
    if output != "-" and not Path(output).is_absolute() and is_bare(root):
        raise ReleaseError(
            f"{root} is a bare repository, which has no work tree to write {output} into",
            "pass --output - to print it, or an absolute path",
        )
    target = (
        None if output == "-" else Path(output) if Path(output).is_absolute() else root / output
    )
    if full and target is not None and not force:
        refuse_uncommitted(root, target)
    text = regenerate(root, full, use_cache)
    if target is None:
        sys.stdout.write(text)
        return
    try:
        target.write_text(text)
    except OSError as error:
        raise ReleaseError(
            f"cannot write {target} ({error.strerror})", "pass --output - to print it instead"
        ) from None


def main(argv: list[str] | None = None) -> int:
    """`python -m release.changelog_from_history`: `invoke release.changelog`, leaner."""
    import argparse

    from release.errors import exit_status

    parser = argparse.ArgumentParser(prog="python -m release.changelog_from_history")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--output", default="CHANGELOG.md")
    parser.add_argument("--repo", default=".")
    parser.add_argument("--no-cache", action="store_true", help="ignore the released-range cache")
    parser.add_argument("--force", action="store_true", help="overwrite uncommitted changes")
    arguments = parser.parse_args(argv)
    return exit_status(
        lambda: write(
            Path(arguments.repo),
            arguments.full,
            arguments.output,
            not arguments.no_cache,
            arguments.force,
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
