"""Release notes from conventional commits: grouped, linked, rendered as Markdown or JSON.

Also the lean command line behind `invoke release.notes` (`python -m release.notes`), which
imports only what the notes need so that it answers in a fraction of a second.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from release.commits import Commit
from release.config import DEFAULT_SKIP_COMMITS, ReleaseConfig, load_config
from release.errors import ReleaseError
from release.history import Range, committed_file, release_range, repository
from release.version import TAG_PREFIX, parse_version, tag_name

if TYPE_CHECKING:
    from release.credits import Credit

BREAKING_TITLE = "⚠ Breaking Changes"
PR_REFERENCE = re.compile(r"\(#(\d+)\)")
# What a commit-msg hook may put before a subject: `[TICKET-1] `, `TICKET-1: `.
HOOK_PREFIX = re.compile(r"(?:\[[^\]]*\]|[A-Z][A-Z0-9_]*-\d+:?)\s+")
GLOBAL_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")


def any_of(patterns: Sequence[str], setting: str) -> Callable[[str], bool]:
    """One test for many regexes: those anchored with `^` joined into one `match`, the others
    into one `search` (a global flag such as `(?i)` becomes a scoped one)."""
    anchored: list[str] = []
    floating: list[str] = []
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ReleaseError(
                f"{setting} pattern {pattern!r} is not a regular expression ({error})",
                "fix it in [tool.barycenter.release] of pyproject.toml",
            ) from None
        flags = GLOBAL_FLAGS.match(pattern)
        body = pattern[flags.end() :] if flags else pattern
        wrapped = f"(?{flags[1]}:{body})" if flags else f"(?:{body})"
        (anchored if body.startswith("^") else floating).append(wrapped)
    tests = [re.compile("|".join(anchored)).match] if anchored else []
    tests += [re.compile("|".join(floating)).search] if floating else []
    if len(tests) == 1:
        return lambda text: tests[0](text) is not None
    return lambda text: any(test(text) is not None for test in tests)


# Markdown that a subject would otherwise trigger: raw HTML (`<name>` vanishing), emphasis,
# links (`[1.2.0]` resolving to a changelog link), strikethrough, escapes.
MARKDOWN_SPECIAL = re.compile(r"[\\*_<\[\]~]")
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
# What would open a block at the start of an item: a heading, a quote, a nested list.
BLOCK_START = re.compile(r"#{1,6}(?=\s|$)|>|[+-](?=\s|$)|\d{1,9}(?=[.)](?:\s|$))")


def escape_specials(text: str) -> str:
    return MARKDOWN_SPECIAL.sub(r"\\\g<0>", text)


def escape(text: str) -> str:
    """The subject as plain text in Markdown; `code spans` stay code."""
    if "`" in text:
        parts, last = [], 0
        for span in CODE_SPAN.finditer(text):
            parts += [escape_specials(text[last : span.start()]), span[0]]
            last = span.end()
        escaped = "".join([*parts, escape_specials(text[last:])])
    elif MARKDOWN_SPECIAL.search(text) is None:
        escaped = text
    else:
        escaped = escape_specials(text)
    start = BLOCK_START.match(escaped)
    if start is None:
        return escaped
    at = start.end() if start[0][0].isdigit() else 0  # `1\. x`, `\# x`
    return f"{escaped[:at]}\\{escaped[at:]}"


@dataclass(frozen=True)
class Groups:
    """Which commit types go under which heading; `*` collects every other commit."""

    titles: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("Features", ("feat",)),
        ("Bug Fixes", ("fix",)),
        ("Other Changes", ("*",)),
    )
    breaking_title: str = BREAKING_TITLE
    # Release commits ("chore(release): v{version}", and other tools') are bookkeeping, never news.
    release_commit: str = "chore(release): v{version}"
    skip_commits: tuple[str, ...] = DEFAULT_SKIP_COMMITS

    @functools.cached_property
    def bookkeeping(self) -> Callable[[str], bool]:
        """Whether a subject is a release commit, this project's or another tool's, also behind
        a commit-msg hook's `[TICKET-1]`."""
        own = "^" + re.escape(self.release_commit).replace(re.escape("{version}"), r"\S+") + "$"
        matches = any_of([own, *self.skip_commits], "skip-commits")

        def test(subject: str) -> bool:
            if matches(subject):
                return True
            hook = HOOK_PREFIX.match(subject)
            return hook is not None and matches(subject[hook.end() :])

        return test

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
    # Where the range ends when `tag` is not made yet (the next release's notes: HEAD).
    tip: str | None = None

    @property
    def empty(self) -> bool:
        return not any(self.groups.values())


def grouped(
    commits: Sequence[Commit], tag: str | None, previous_tag: str | None, groups: Groups
) -> Notes:
    notes = Notes(tag, previous_tag, {title: [] for title in groups.order})
    sections, title_of, bookkeeping = notes.groups, groups.title_of, groups.bookkeeping
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


def entry(commit: Commit, repository_url: str, people: People | None = None) -> str:
    """The subject as written; with a repository URL, PR references and the commit link; with
    GitHub's answers (`people`), who made it and in which pull request, as GitHub's generated
    notes say it: "by @alice in #123"."""
    if not repository_url:
        return f"- {escape(commit.subject)}"
    base = repository_url.rstrip("/")
    subject = PR_REFERENCE.sub(lambda m: f"([#{m[1]}]({base}/pull/{m[1]}))", escape(commit.subject))
    credit = people.by_sha.get(commit.sha) if people is not None else None
    if people is not None and credit is not None:
        subject += people.credit_line(credit, base, linked=PR_REFERENCE.search(commit.subject))
    return f"- {subject} ([{commit.sha[:7]}]({base}/commit/{commit.sha}))"


@dataclass(frozen=True)
class People:
    """What GitHub told of a release's commits (release.credits): each commit's credit, the
    new contributors, and which logins are bots (never named)."""

    by_sha: Mapping[str, Credit]
    new_contributors: Sequence[tuple[str, int | None]] = ()
    bots: Sequence[str] = ()

    def credit_line(self, credit: Credit, base: str, linked: object) -> str:
        from release.credits import is_bot

        logins = [
            f"@{login}"
            for login in (credit.login, *credit.co_logins)
            if login and not is_bot(login, self.bots)
        ]
        text = f" by {' and '.join(logins)}" if logins else ""
        if credit.pull_request is not None and not linked:
            number = credit.pull_request
            text += f" in [#{number}]({base}/pull/{number})"
        return text

    def section(self, base: str, level: str = "##") -> str:
        if not self.new_contributors:
            return ""
        lines = "\n".join(
            f"- @{login} made their first contribution"
            + (f" in [#{number}]({base}/pull/{number})" if number is not None else "")
            for login, number in self.new_contributors
        )
        return f"{level} New Contributors\n\n{lines}"


def group_sections(
    notes: Notes, repository_url: str, level: str = "###", people: People | None = None
) -> str:
    parts = []
    for title, commits in notes.groups.items():
        if commits:
            lines = "\n".join(entry(commit, repository_url, people) for commit in commits)
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


def markdown(notes: Notes, repository_url: str = "", people: People | None = None) -> str:
    body = group_sections(notes, repository_url, people=people) or "No changes."
    text = f"## What's Changed\n\n{body}"
    if people is not None and repository_url:
        welcome = people.section(repository_url.rstrip("/"))
        text += f"\n\n{welcome}" if welcome else ""
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
    return Groups(
        config.groups, config.breaking_title, config.commit_message, tuple(config.skip_commits)
    )


def notes_for(root: Path, version_text: str = "", config: ReleaseConfig | None = None) -> Notes:
    """The notes of release X as it is (its tag) or would be at HEAD (the next release only);
    the unreleased work without X."""
    config = config or load_config(root, missing_ok=True)
    prefix = config.tag_prefix
    if prefix and prefix != TAG_PREFIX:
        version_text = version_text.removeprefix(prefix)
    version = parse_version(version_text) if version_text else None
    found = release_range(root, version, prefix=prefix, only_next=True)
    notes = from_range(found, groups_of(config))
    if version is not None and found.release is None:
        notes.tag, notes.tip = tag_name(version, prefix), "HEAD"
    return notes


def print_to_stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr)


def render(root: Path, version_text: str = "", output_format: str = "md") -> str:
    root, is_bare_repository = repository(root)
    bare = committed_file(root, "pyproject.toml") if is_bare_repository else None
    config = load_config(root, missing_ok=True, committed=bare)
    notes = notes_for(root, version_text, config)
    if output_format == "json":
        return as_json(notes, config.source_url) + "\n"
    if output_format == "md":
        from release.credits import people_for

        people = people_for(root, notes, config, "notes", say=print_to_stderr, tip=notes.tip)
        return markdown(notes, config.source_url, people)
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
