"""CHANGELOG.md in Keep a Changelog 1.1.0: finalize the Unreleased section into a release.

Pure text in, text out. The release's section lands in version order (a hotfix for an old line
goes below newer releases), hand-written Unreleased entries move into it, and the compare
links at the bottom follow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

import semver

from release.errors import ReleaseError
from release.history import Release
from release.version import TAG_PREFIX, release_version, tag_name

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
    prefix: str = TAG_PREFIX,
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
    return with_links(text, version, previous, repository_url, newest, prefix)


def label_version(label: str) -> semver.Version | None:
    """The version a section heading `## [label]` names, or None (`Unreleased`, other text)."""
    return release_version(label, "")


def with_links(
    text: str,
    version: semver.Version,
    previous: semver.Version | None,
    repository_url: str,
    newest: bool,
    prefix: str = TAG_PREFIX,
) -> str:
    if not repository_url:
        return text
    base = repository_url.rstrip("/")
    start = links_start(text)
    links = {m["label"]: m["url"] for m in LINK.finditer(text, start)}
    tag = tag_name(version, prefix)
    if newest:
        links["Unreleased"] = f"{base}/compare/{tag}...HEAD"
    links[str(version)] = (
        f"{base}/compare/{tag_name(previous, prefix)}...{tag}"
        if previous
        else f"{base}/releases/tag/{tag}"
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


def hand_written(body: str, generated: Callable[[str], bool], titles: set[str]) -> str:
    """What of an Unreleased section a person wrote: without the entries a previous run
    generated (`generated` tells them) and the generated headings they leave empty."""
    kept = [line for line in body.splitlines() if not generated(line)]
    blocks: list[list[str]] = [[]]
    for line in kept:
        if line.startswith("#"):
            blocks.append([])
        blocks[-1].append(line)
    parts = []
    for block in blocks:
        heading = block[0] if block and block[0].startswith("#") else ""
        content = "\n".join(block[1:] if heading else block).strip("\n")
        if content or (heading and heading.lstrip("# ") not in titles):
            parts.append(f"{heading}\n\n{content}" if heading and content else heading or content)
    return re.sub(r"\n{3,}", "\n\n", "\n\n".join(parts)).strip("\n")


@dataclass(frozen=True)
class Block:
    """A `## [label]` section as text, with the target of its link."""

    label: str
    text: str
    link: str | None


def untagged_sections(text: str, tagged: set[semver.Version]) -> list[Block]:
    """The sections of the existing changelog that history cannot rebuild: of versions that
    have no tag, or with a label that is no version."""
    start_of_links = links_start(text)
    links = {m["label"]: m["url"] for m in LINK.finditer(text, start_of_links)}
    return [
        Block(label, text[section.heading_start : section.end].strip("\n"), links.get(label))
        for label, section in sections(text, start_of_links).items()
        if label != "Unreleased" and label_version(label) not in tagged
    ]


def rebuilt(
    text: str,
    sections_by_version: list[tuple[Release, Release | None, str]],
    unreleased: str,
    url: str,
    unreleased_previous: Release | None = None,
    generated: Callable[[str], bool] = lambda line: False,
    titles: Iterable[str] = (),
) -> str:
    """A whole changelog from history: the existing preamble, Unreleased (its hand-written
    entries kept before the generated ones), then every release, newest first, with the
    existing sections of versions that have no tag kept in version order."""
    start_of_links = links_start(text)
    found = sections(text, start_of_links)
    match = UNRELEASED.search(text)
    preamble = text[: match.start()].rstrip("\n") if match else DEFAULT_PREAMBLE.rstrip("\n")
    own = ""
    if "Unreleased" in found:
        old = found["Unreleased"]
        own = hand_written(text[old.body_start : old.end], generated, set(titles))
    body = "\n\n".join(part for part in (own, unreleased) if part)
    parts = [preamble, "## [Unreleased]" + (f"\n\n{body}" if body else "")]
    kept = untagged_sections(text, {release.version for release, _, _ in sections_by_version})
    links: dict[str, str] = {}
    base = url.rstrip("/")
    if base:
        links["Unreleased"] = (
            f"{base}/compare/{unreleased_previous.tag}...HEAD"
            if unreleased_previous
            else f"{base}/commits/HEAD"
        )
    tagged = [
        Block(
            str(release.version),
            f"## [{release.version}] - {release.date}" + (f"\n\n{notes}" if notes else ""),
            (
                f"{base}/compare/{previous.tag}...{release.tag}"
                if previous
                else f"{base}/releases/tag/{release.tag}"
            )
            if base
            else None,
        )
        for release, previous, notes in sections_by_version
    ]
    # Newest first; sections whose label is no version stay last, in the order they had.
    versioned = [(v, s) for s in [*tagged, *kept] if (v := label_version(s.label)) is not None]
    ordered = [s for _, s in sorted(versioned, key=lambda pair: pair[0], reverse=True)]
    ordered += [s for s in kept if label_version(s.label) is None]
    for section in ordered:
        parts.append(section.text)
        if section.link:
            links[section.label] = section.link
    block = "".join(f"[{label}]: {target}\n" for label, target in links.items())
    return "\n\n".join(parts) + "\n" + (f"\n{block}" if block else "")


def with_missing_releases(
    text: str,
    sections_by_version: list[tuple[Release, Release | None, str]],
    url: str,
    prefix: str = TAG_PREFIX,
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
                prefix=prefix,
            )
    return text
