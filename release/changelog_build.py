"""`invoke release.changelog`: CHANGELOG.md sections regenerated from the conventional commits."""

from __future__ import annotations

import sys
from pathlib import Path

from release import changelog
from release.config import load_config
from release.history import Release, full_history
from release.notes import from_range, group_sections, groups_of


def regenerate(root: Path, full: bool, use_cache: bool = True) -> str:
    """The changelog with every release tag's section: all rebuilt with `full`, else only the
    missing ones added (hand-written sections are kept)."""
    config = load_config(root, missing_ok=True)
    groups = groups_of(config)
    ranges = full_history(root, use_cache=use_cache)
    sections: list[tuple[Release, Release | None, str]] = []
    unreleased = ""
    for found in ranges:
        body = group_sections(from_range(found, groups), config.source_url)
        if found.release is None:
            unreleased = body
        else:
            sections.append((found.release, found.previous, body))
    path = root / "CHANGELOG.md"
    text = path.read_text() if path.exists() else changelog.DEFAULT_PREAMBLE + "\n## [Unreleased]\n"
    if full:
        return changelog.rebuilt(text, sections, unreleased, config.source_url)
    return changelog.with_missing_releases(text, sections, config.source_url)


def write(root: Path, full: bool, output: str, use_cache: bool = True) -> None:
    text = regenerate(root, full, use_cache)
    if output == "-":
        sys.stdout.write(text)
    else:
        (root / output if not Path(output).is_absolute() else Path(output)).write_text(text)


def main(argv: list[str] | None = None) -> int:
    """`python -m release.changelog_build`: the same as `invoke release.changelog`, leaner."""
    import argparse

    from release.errors import exit_status

    parser = argparse.ArgumentParser(prog="python -m release.changelog_build")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--output", default="CHANGELOG.md")
    parser.add_argument("--repo", default=".")
    parser.add_argument("--no-cache", action="store_true", help="ignore the released-range cache")
    arguments = parser.parse_args(argv)
    return exit_status(
        lambda: write(
            Path(arguments.repo), arguments.full, arguments.output, not arguments.no_cache
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
