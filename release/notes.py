"""Release notes from conventional commits: grouped, linked, rendered as Markdown or JSON.

Also the lean command line behind `invoke release.notes` (`python -m release.notes`), which
imports only what the notes need so that it answers in a fraction of a second.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from release.commits import Commit
from release.config import ReleaseConfig, load_config
from release.history import Range, release_range
from release.version import parse_version, tag_name

BREAKING_TITLE = "⚠ Breaking Changes"
PR_REFERENCE = re.compile(r"\(#(\d+)\)")


@dataclass(frozen=True)
class Groups:
    """Which commit types go under which heading; `*` collects every other commit."""

    titles: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("Features", ("feat",)),
        ("Bug Fixes", ("fix",)),
        ("Other Changes", ("*",)),
    )
    breaking_title: str = BREAKING_TITLE
    # Release commits ("chore(release): v{version}") are bookkeeping, never news.
    release_commit: str = "chore(release): v{version}"

    @functools.cached_property
    def release_subject(self) -> re.Pattern[str]:
        pattern = re.escape(self.release_commit).replace(re.escape("{version}"), r"\S+")
        return re.compile(pattern)

    def title_of(self, commit: Commit) -> str:
        if commit.breaking:
            return self.breaking_title
        return self.by_type.get(commit.type, self.fallback)

    @functools.cached_property
    def fallback(self) -> str:
        collecting = [title for title, types in self.titles if "*" in types]
        return collecting[0] if collecting else self.titles[-1][0]

    @functools.cached_property
    def by_type(self) -> dict[str | None, str]:
        mapping: dict[str | None, str] = {}
        for title, types in reversed(self.titles):
            mapping.update((kind, title) for kind in types if kind != "*")
        return mapping

    @property
    def order(self) -> list[str]:
        return [self.breaking_title, *(title for title, _ in self.titles)]


@dataclass
class Notes:
    tag: str | None
    previous_tag: str | None
    groups: dict[str, list[Commit]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.groups.values())


def grouped(
    commits: Sequence[Commit], tag: str | None, previous_tag: str | None, groups: Groups
) -> Notes:
    notes = Notes(tag, previous_tag, {title: [] for title in groups.order})
    sections, title_of = notes.groups, groups.title_of
    bookkeeping = groups.release_subject.fullmatch
    for commit in commits:
        if commit.listed and not bookkeeping(commit.subject):
            sections[title_of(commit)].append(commit)
    return notes


def from_range(found: Range, groups: Groups | None = None) -> Notes:
    return grouped(
        found.commits,
        found.release.tag if found.release else None,
        found.previous.tag if found.previous else None,
        groups or Groups(),
    )


def entry(commit: Commit, repository_url: str) -> str:
    """The subject as written; with a repository URL, PR references and the commit link."""
    if not repository_url:
        return f"- {commit.subject}"
    base = repository_url.rstrip("/")
    subject = PR_REFERENCE.sub(lambda m: f"([#{m[1]}]({base}/pull/{m[1]}))", commit.subject)
    return f"- {subject} ([{commit.sha[:7]}]({base}/commit/{commit.sha}))"


def group_sections(notes: Notes, repository_url: str, level: str = "###") -> str:
    parts = []
    for title, commits in notes.groups.items():
        if commits:
            lines = "\n".join(entry(commit, repository_url) for commit in commits)
            parts.append(f"{level} {title}\n\n{lines}")
    return "\n\n".join(parts)


def compare_link(notes: Notes, repository_url: str) -> str:
    if not repository_url:
        return ""
    base = repository_url.rstrip("/")
    head = notes.tag or "HEAD"
    if notes.previous_tag:
        return f"**Full Changelog**: {base}/compare/{notes.previous_tag}...{head}"
    return f"**Full Changelog**: {base}/commits/{head}"


def markdown(notes: Notes, repository_url: str = "") -> str:
    body = group_sections(notes, repository_url) or "No changes."
    text = f"## What's Changed\n\n{body}"
    link = compare_link(notes, repository_url)
    return f"{text}\n\n{link}\n" if link else f"{text}\n"


def as_json(notes: Notes, repository_url: str = "") -> str:
    return json.dumps(
        {
            "tag": notes.tag,
            "previous_tag": notes.previous_tag,
            "groups": [
                {
                    "title": title,
                    "commits": [
                        {
                            "sha": c.sha,
                            "subject": c.subject,
                            "type": c.type,
                            "scope": c.scope,
                            "breaking": c.breaking,
                            "description": c.description,
                        }
                        for c in commits
                    ],
                }
                for title, commits in notes.groups.items()
                if commits
            ],
            "compare": compare_link(notes, repository_url).removeprefix("**Full Changelog**: "),
        },
        indent=2,
        ensure_ascii=False,
    )


def groups_of(config: ReleaseConfig) -> Groups:
    return Groups(config.groups, config.breaking_title, config.commit_message)


def notes_for(root: Path, version_text: str = "", config: ReleaseConfig | None = None) -> Notes:
    """The notes of release X as it is (its tag) or would be (at HEAD); unreleased without X."""
    config = config or load_config(root, missing_ok=True)
    version = parse_version(version_text) if version_text else None
    found = release_range(root, version)
    notes = from_range(found, groups_of(config))
    if version is not None and found.release is None:
        notes.tag = tag_name(version)
    return notes


def render(root: Path, version_text: str = "", output_format: str = "md") -> str:
    config = load_config(root, missing_ok=True)
    notes = notes_for(root, version_text, config)
    if output_format == "json":
        return as_json(notes, config.source_url) + "\n"
    if output_format == "md":
        return markdown(notes, config.source_url)
    from release.errors import ReleaseError

    raise ReleaseError(f"unknown format '{output_format}'", "use --format md or --format json")


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import sys

    from release.errors import exit_status

    parser = argparse.ArgumentParser(prog="python -m release.notes", description=__doc__)
    parser.add_argument("--version", default="", help="notes of this release (default: unreleased)")
    parser.add_argument("--repo", default=".", help="the repository (default: .)")
    parser.add_argument("--format", default="md", choices=("md", "json"))
    arguments = parser.parse_args(argv)
    return exit_status(
        lambda: sys.stdout.write(render(Path(arguments.repo), arguments.version, arguments.format))
    )


if __name__ == "__main__":
    raise SystemExit(main())
