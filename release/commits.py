"""Conventional Commits 1.0.0: parse a commit message into type, scope, breaking and footers.

Pure and dependency-free, so reading fifty thousand commits costs only the parsing.
"""

from __future__ import annotations

import re
from typing import NamedTuple

HEADER = re.compile(
    r"(?P<type>[A-Za-z][A-Za-z0-9-]*)"
    r"(?:\((?P<scope>[^()\r\n]*)\))?"
    r"(?P<bang>!)?: (?P<description>.+)"
)
FOOTER = re.compile(r"(?P<token>BREAKING CHANGE|BREAKING-CHANGE|[A-Za-z][A-Za-z0-9-]*)(?:: | #)")
BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE: ?(?P<text>.*)$", re.MULTILINE)
# Work-in-progress commits meant to be squashed before merging: never release notes.
AUTOSQUASH = ("fixup! ", "squash! ", "amend! ")


class Commit(NamedTuple):
    """One commit as release notes see it (a tuple: fifty thousand of them build quickly)."""

    sha: str
    subject: str
    type: str | None
    scope: str | None
    breaking: bool
    description: str
    body: str = ""
    breaking_note: str = ""

    @property
    def conventional(self) -> bool:
        return self.type is not None

    @property
    def is_revert(self) -> bool:
        return self.type == "revert" or self.subject.startswith('Revert "')

    @property
    def listed(self) -> bool:
        """Whether the commit belongs in release notes at all (an empty message does not)."""
        return bool(self.subject) and not self.subject.startswith(AUTOSQUASH)


def footers(body: str) -> list[tuple[str, str]]:
    """The trailers in the last paragraph of the body, as (token, value) pairs."""
    paragraphs = body.strip().split("\n\n")
    found: list[tuple[str, str]] = []
    for line in paragraphs[-1].splitlines() if paragraphs else []:
        match = FOOTER.match(line)
        if match:
            found.append((match["token"], line[match.end() :]))
        elif found:
            token, value = found[-1]
            found[-1] = (token, f"{value}\n{line}")  # a footer's value may wrap
        else:
            return []
    return found


def parse(sha: str, subject: str, body: str = "") -> Commit:
    subject = subject.strip()
    header = HEADER.fullmatch(subject)
    breaking_text = ""
    if body and "BREAKING" in body:
        match = BREAKING_FOOTER.search(body)
        if match:
            breaking_text = match["text"].strip()
    if header is None:
        return Commit(sha, subject, None, None, bool(breaking_text), subject, body, breaking_text)
    # Positional, from groups(): this runs once per commit of the history.
    kind, scope, bang, description = header.groups()
    breaking = bang is not None or bool(breaking_text)
    return Commit(
        sha, subject, kind.lower(), scope or None, breaking, description, body, breaking_text
    )
