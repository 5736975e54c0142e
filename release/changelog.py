"""CHANGELOG.md in Keep a Changelog 1.1.0: finalize the Unreleased section into a release.

Pure text in, text out. The release's section lands in version order (a hotfix for an old line
goes below newer releases), hand-written Unreleased entries move into it, and the compare
links at the bottom follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import semver

from release.errors import ReleaseError
from release.history import Release
from release.version import release_version, tag_name

UNRELEASED = re.compile(r"^## \[Unreleased\][^\n]*$", re.MULTILINE)
RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\][^\n]*$", re.MULTILINE)
LINK = re.compile(r"^\[(?P<label>[^\]]+)\]: (?P<url>\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Section:
    heading_start: int
    body_start: int
    end: int


def sections(text: str, links_start: int) -> dict[str, Section]:
    headings = [m for m in RELEASE_HEADING.finditer(text) if m.start() < links_start]
    found = {}
    for index, match in enumerate(headings):
        end = headings[index + 1].start() if index + 1 < len(headings) else links_start
        found[match["version"]] = Section(match.start(), match.end() + 1, end)
    return found


def links_start(text: str) -> int:
    """Where the block of link definitions at the end of the file begins."""
    start = len(text)
    for match in reversed(list(LINK.finditer(text))):
        between = text[match.end() : start]
        if between.strip():
            break
        start = match.start()
    return start


def has_release(text: str, version: semver.Version) -> bool:
    return str(version) in sections(text, links_start(text))


def release_date(text: str, version: semver.Version) -> date | None:
    match = re.search(rf"^## \[{re.escape(str(version))}\] - (\d{{4}}-\d{{2}}-\d{{2}})", text, re.M)
    return date.fromisoformat(match[1]) if match else None


def section_body(text: str, version: semver.Version) -> str:
    """The body of `## [version]`, or an empty string when there is no such section."""
    section = sections(text, links_start(text)).get(str(version))
    return "" if section is None else text[section.body_start : section.end].strip("\n")


def finalize(
    text: str,
    version: semver.Version,
    day: date,
    previous: semver.Version | None,
    repository_url: str,
    generated: str = "",
    keep_unreleased: bool = False,
) -> str:
    """Move Unreleased into `## [version] - day`; unchanged when that section exists.

    With `keep_unreleased` (a hotfix merged back into develop) the Unreleased entries stay
    where they are and the section only carries `generated`.
    """
    if has_release(text, version):
        return text
    start_of_links = links_start(text)
    found = sections(text, start_of_links)
    if "Unreleased" not in found:
        raise ReleaseError(
            "CHANGELOG.md has no '## [Unreleased]' section",
            "add one below the introduction (Keep a Changelog 1.1.0)",
        )
    unreleased = found.pop("Unreleased")
    released = {label: v for label in found if (v := label_version(label)) is not None}
    newest = all(v < version for v in released.values())
    if newest and not keep_unreleased:
        # The newest release takes the hand-written Unreleased entries; Unreleased starts empty.
        hand_written = text[unreleased.body_start : unreleased.end].strip("\n")
        body = "\n\n".join(part for part in (hand_written, generated.strip("\n")) if part)
        section = f"## [{version}] - {day.isoformat()}\n\n" + (f"{body}\n\n" if body else "")
        text = text[: unreleased.body_start] + "\n" + section + text[unreleased.end :]
    else:
        # A patch of an older line: its section goes in version order, Unreleased stays as is.
        body = generated.strip("\n")
        section = f"## [{version}] - {day.isoformat()}\n\n" + (f"{body}\n\n" if body else "")
        older = [found[label].heading_start for label, v in released.items() if v < version]
        insert_at = min(older) if older else start_of_links
        text = text[:insert_at].rstrip("\n") + "\n\n" + section + text[insert_at:].lstrip("\n")
    return with_links(text, version, previous, repository_url, newest)


def label_version(label: str) -> semver.Version | None:
    return release_version(tag_name_of(label))


def tag_name_of(label: str) -> str:
    return f"v{label}"


def with_links(
    text: str,
    version: semver.Version,
    previous: semver.Version | None,
    repository_url: str,
    newest: bool,
) -> str:
    if not repository_url:
        return text
    base = repository_url.rstrip("/")
    start = links_start(text)
    links = {m["label"]: m["url"] for m in LINK.finditer(text, start)}
    if newest:
        links["Unreleased"] = f"{base}/compare/{tag_name(version)}...HEAD"
    links[str(version)] = (
        f"{base}/compare/{tag_name(previous)}...{tag_name(version)}"
        if previous
        else f"{base}/releases/tag/{tag_name(version)}"
    )
    versioned = {label: v for label in links if (v := label_version(label)) is not None}
    labels = (
        [label for label in links if label == "Unreleased"]
        + sorted(versioned, key=versioned.__getitem__, reverse=True)
        + sorted(label for label in links if label != "Unreleased" and label not in versioned)
    )
    block = "".join(f"[{label}]: {links[label]}\n" for label in labels)
    head = text[:start].rstrip("\n")
    return f"{head}\n\n{block}"


DEFAULT_PREAMBLE = """\
# Changelog

All notable changes to this project are documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).
"""


def rebuilt(
    text: str,
    sections_by_version: list[tuple[Release, Release | None, str]],
    unreleased: str,
    url: str,
) -> str:
    """A whole changelog from history: the existing preamble, then every release, newest first."""
    match = UNRELEASED.search(text)
    preamble = text[: match.start()].rstrip("\n") if match else DEFAULT_PREAMBLE.rstrip("\n")
    parts = [preamble, "## [Unreleased]" + (f"\n\n{unreleased}" if unreleased else "")]
    links: dict[str, str] = {}
    base = url.rstrip("/")
    newest = sections_by_version[0][0].tag if sections_by_version else None
    if base:
        links["Unreleased"] = (
            f"{base}/compare/{newest}...HEAD" if newest else f"{base}/commits/HEAD"
        )
    for release, previous, body in sections_by_version:
        parts.append(f"## [{release.version}] - {release.date}" + (f"\n\n{body}" if body else ""))
        if base:
            links[str(release.version)] = (
                f"{base}/compare/{previous.tag}...{release.tag}"
                if previous
                else f"{base}/releases/tag/{release.tag}"
            )
    block = "".join(f"[{label}]: {target}\n" for label, target in links.items())
    return "\n\n".join(parts) + "\n" + (f"\n{block}" if block else "")


def with_missing_releases(
    text: str, sections_by_version: list[tuple[Release, Release | None, str]], url: str
) -> str:
    """The existing changelog plus a section for each release tag it lacks, in version order."""
    for release, previous, body in reversed(sections_by_version):
        if not has_release(text, release.version):
            text = finalize(
                text,
                release.version,
                date.fromisoformat(release.date),
                previous.version if previous else None,
                url,
                generated=body,
                keep_unreleased=True,
            )
    return text
