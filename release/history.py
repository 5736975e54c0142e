"""Which commits belong to which release: ranges between release tags, read fast from git.

Speed matters here (the notes of a 50k-commit history): git is read with one `git log` of a
machine-readable format per question, never commit by commit, and the full history is read by
concurrent `git log` processes while the tag graph is labelled in Python.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import semver

from release.commits import Commit, parse
from release.errors import ReleaseError
from release.version import is_stable, release_version, tag_name

LOG_FORMAT = "--format=%H%x1f%s%x1f%b%x1e"
TAG_FORMAT = "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)%00%(creatordate:short)"


def git(root: Path, *args: str) -> bytes:
    # One large read instead of communicate()'s select loop: megabytes of log come back faster.
    with subprocess.Popen(
        ["git", "-C", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    ) as process:
        output, error = process.stdout.read(), process.stderr.read()  # type: ignore[union-attr]
    if process.returncode != 0:
        message = error.decode(errors="replace").strip().splitlines()
        raise ReleaseError(
            f"git {args[0]} failed in {root} ({message[-1] if message else process.returncode})",
            "check that it is a git repository with the refs named",
        )
    return output


@dataclass(frozen=True)
class Release:
    version: semver.Version
    commit: str
    date: str

    @property
    def tag(self) -> str:
        return tag_name(self.version)


@dataclass
class Range:
    """The commits of one release (or of the unreleased work when `release` is None)."""

    release: Release | None
    previous: Release | None
    commits: list[Commit] = field(default_factory=list)


def release_tags(root: Path) -> dict[semver.Version, Release]:
    releases = {}
    for line in git(root, "for-each-ref", TAG_FORMAT, "refs/tags").decode().splitlines():
        name, obj, peeled, day = line.split("\0")
        version = release_version(name)
        if version is not None:
            releases[version] = Release(version, peeled or obj, day)
    return releases


def previous_release(
    version: semver.Version | None, ancestors: Iterable[semver.Version]
) -> semver.Version | None:
    """The release a range starts from.

    A stable release counts from the highest earlier *stable* ancestor, so 1.2.0 covers
    everything since 1.1.0 across its release candidates; a pre-release from the highest earlier
    ancestor of any kind; the unreleased work from the highest ancestor of any kind.
    """
    if version is None:
        return max(ancestors, default=None)
    earlier = [v for v in ancestors if v < version]
    if is_stable(version):
        earlier = [v for v in earlier if is_stable(v)]
    return max(earlier, default=None)


def parse_log(output: bytes) -> list[Commit]:
    commits = []
    for record in output.decode(errors="replace").split("\x1e"):
        record = record.lstrip("\n")
        if not record:
            continue
        sha, subject, body = record.split("\x1f", 2)
        commits.append(parse(sha, subject, body.strip()))
    return commits


def read_commits(root: Path, *revisions: str) -> list[Commit]:
    """Non-merge commits of a revision range, newest first."""
    return parse_log(git(root, "log", "--no-merges", LOG_FORMAT, *revisions, "--"))


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    result = subprocess.run(
        ["git", "-C", str(root), "merge-base", "--is-ancestor", ancestor, descendant],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


PROBES = 6


def find_previous(
    root: Path,
    version: semver.Version | None,
    releases: dict[semver.Version, Release],
    tip: str,
) -> semver.Version | None:
    """previous_release() for one tip, asking git as little as possible.

    The answer is the highest candidate that is an ancestor, so candidates are probed from the
    top; usually the first one is. Past a few misses (a patch of an old line), one
    `git tag --merged` answers for all of them.
    """
    candidates = sorted(
        (v for v in releases if v != version and previous_release(version, [v]) == v),
        reverse=True,
    )
    for candidate in candidates[:PROBES]:
        if is_ancestor(root, releases[candidate].commit, tip):
            return candidate
    if len(candidates) <= PROBES:
        return None
    merged = git(root, "tag", "--merged", tip).decode().split()
    ancestors = [v for name in merged if (v := release_version(name)) is not None and v != version]
    return previous_release(version, ancestors)


def release_range(root: Path, version: semver.Version | None, target: str = "HEAD") -> Range:
    """The range of one release: from its previous release to `target` (its tag, if it exists)."""
    releases = release_tags(root)
    this = releases.get(version) if version is not None else None
    tip = this.commit if this else target
    previous = find_previous(root, version, releases, tip)
    start = releases[previous] if previous is not None else None
    revisions = [tip] + ([f"^{start.commit}"] if start else [])
    return Range(this, start, read_commits(root, *revisions))


def topo_parents(root: Path, tips: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Commits reachable from `tips`, parents before children, with their parents."""
    output = git(root, "log", "--topo-order", "--reverse", "--format=%H %P", *tips, "--")
    order: list[str] = []
    parents: dict[str, list[str]] = {}
    for line in output.decode().splitlines():
        sha, *rest = line.split()
        order.append(sha)
        parents[sha] = rest
    return order, parents


def label(
    order: list[str],
    parents: dict[str, list[str]],
    tips: Sequence[tuple[semver.Version | None, str]],
) -> dict[str, semver.Version | None]:
    """Give each commit the first tip, in topological order, that reaches it.

    Processing tips ancestors-first makes each one's label set its ancestors minus those of
    the tips before it: the release's own commits when the tips are its possible predecessors.
    """
    position = {sha: index for index, sha in enumerate(order)}
    owner: dict[str, semver.Version | None] = {}
    for key, tip in sorted(tips, key=lambda item: position.get(item[1], -1)):
        if tip not in position or tip in owner:
            continue
        stack = [tip]
        while stack:
            sha = stack.pop()
            if sha in owner:
                continue
            owner[sha] = key
            stack.extend(p for p in parents.get(sha, ()) if p not in owner)
    return owner


def ancestor_releases(
    order: list[str],
    parents: dict[str, list[str]],
    releases: dict[semver.Version, Release],
    head: str,
) -> dict[semver.Version | None, list[semver.Version]]:
    """For each release (and None: `head`), the other releases its commit descends from.

    One pass over the graph, parents first, carrying the set of releases below each commit as
    a bitset.
    """
    versions = sorted(releases)
    at: dict[str, int] = {}
    for bit, version in enumerate(versions):
        at[releases[version].commit] = at.get(releases[version].commit, 0) | (1 << bit)
    below: dict[str, int] = {}
    for sha in order:
        mask = at.get(sha, 0)
        for parent in parents[sha]:
            mask |= below.get(parent, 0)
        below[sha] = mask
    found: dict[semver.Version | None, list[semver.Version]] = {}
    for bit, version in enumerate(versions):
        mask = below.get(releases[version].commit, 0) & ~(1 << bit)
        found[version] = [v for index, v in enumerate(versions) if mask >> index & 1]
    mask = below.get(head, 0)
    found[None] = [v for index, v in enumerate(versions) if mask >> index & 1]
    return found


def read_all_messages(root: Path, tips: Sequence[str], split_date: int | None) -> list[Commit]:
    """Every non-merge commit reachable from `tips`, read by two concurrent `git log`s."""
    from concurrent.futures import ThreadPoolExecutor

    if split_date is None:
        return read_commits(root, *tips)
    halves = [(f"--until={split_date}",), (f"--since={split_date + 1}",)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outputs = list(
            pool.map(
                lambda bound: git(root, "log", "--no-merges", LOG_FORMAT, *bound, *tips, "--"),
                halves,
            )
        )
    return [commit for output in outputs for commit in parse_log(output)]


CACHE_FORMAT = "ranges-v2"


def cache_path(root: Path) -> Path:
    git_dir = git(root, "rev-parse", "--absolute-git-dir").decode().strip()
    return Path(git_dir) / "barycenter-release" / f"{CACHE_FORMAT}.json"


def tags_key(releases: dict[semver.Version, Release]) -> str:
    """Released ranges depend only on the release tags and the commits they name; both are
    immutable once released, so this key says when cached ranges still hold."""
    import hashlib  # here, not at the top: `release.notes` answers faster without it

    lines = sorted(f"{v} {r.commit}" for v, r in releases.items())
    return hashlib.sha256("\n".join([CACHE_FORMAT, *lines]).encode()).hexdigest()


def cached_ranges(root: Path, releases: dict[semver.Version, Release]) -> list[Range] | None:
    import json

    try:
        data = json.loads(cache_path(root).read_text())
    except (OSError, ValueError):
        return None
    if data.get("key") != tags_key(releases):
        return None
    ranges = []
    for entry in data["ranges"]:
        version = semver.Version.parse(entry["version"])
        previous = semver.Version.parse(entry["previous"]) if entry["previous"] else None
        commits = list(map(Commit._make, entry["commits"]))
        ranges.append(
            Range(releases[version], releases.get(previous) if previous else None, commits)
        )
    return ranges


def store_ranges(root: Path, releases: dict[semver.Version, Release], ranges: list[Range]) -> None:
    import json

    entries = [
        {
            "version": str(found.release.version),
            "previous": str(found.previous.version) if found.previous else None,
            # Rows in Commit's field order, bodies dropped: notes show subjects only.
            "commits": [c._replace(body="") for c in found.commits],
        }
        for found in ranges
        if found.release is not None
    ]
    path = cache_path(root)
    path.parent.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"key": tags_key(releases), "ranges": entries}))
    partial.replace(path)
    for stale in path.parent.glob("ranges-*.json"):
        if stale != path:
            stale.unlink()


def full_history(root: Path, head: str = "HEAD", use_cache: bool = True) -> list[Range]:
    """Every release's range and the unreleased work (first), newest release first.

    Released ranges are cached in the git directory, keyed by the release tags; the unreleased
    range is always read afresh.
    """
    releases = release_tags(root)
    if use_cache:
        released = cached_ranges(root, releases)
        if released is not None:
            return [release_range(root, None, head), *released]
    ranges = read_full_history(root, releases, head)
    if use_cache:
        store_ranges(root, releases, ranges)
    return ranges


def read_full_history(
    root: Path, releases: dict[semver.Version, Release], head: str
) -> list[Range]:
    """full_history() from git alone: concurrent reads of every commit, one graph walk."""
    from concurrent.futures import ThreadPoolExecutor

    tips = [r.commit for r in releases.values()]
    head_commit = git(root, "rev-parse", "--verify", f"{head}^{{commit}}").decode().strip()
    tips.append(head_commit)
    dates = sorted(
        int(line)
        for line in git(root, "log", "--no-walk", "--format=%ct", *set(tips), "--").split()
    )
    split_date = dates[len(dates) // 2] if len(dates) > 2 else None
    with ThreadPoolExecutor(max_workers=1) as pool:
        messages = pool.submit(read_all_messages, root, tips, split_date)
        order, parents = topo_parents(root, tips)
        commits = messages.result()
    non_merges = sum(1 for sha in order if len(parents[sha]) < 2)
    if len(commits) != non_merges:
        # Commit dates out of order can hide commits from a date-split read: read it whole.
        commits = read_commits(root, *tips)
    by_sha = {commit.sha: commit for commit in commits}

    by_version = sorted(releases.items())
    stable_tips: list[tuple[semver.Version | None, str]] = [
        (v, r.commit) for v, r in by_version if is_stable(v)
    ]
    # The unreleased work (None) comes last, so it keeps only what no release has.
    all_tips: list[tuple[semver.Version | None, str]] = [(v, r.commit) for v, r in by_version]
    stable_owner = label(order, parents, stable_tips)
    any_owner = label(order, parents, [*all_tips, (None, head_commit)])

    ancestors = ancestor_releases(order, parents, releases, head_commit)
    ranges: dict[semver.Version | None, Range] = {}
    for version in [*releases, None]:
        previous = previous_release(version, ancestors.get(version, ()))
        ranges[version] = Range(
            releases[version] if version is not None else None,
            releases[previous] if previous is not None else None,
        )
    for sha in reversed(order):
        commit = by_sha.get(sha)
        if commit is None:
            continue
        if sha in stable_owner:
            ranges[stable_owner[sha]].commits.append(commit)
        if sha in any_owner:
            owner = any_owner[sha]
            if owner is None or not is_stable(owner):
                ranges[owner].commits.append(commit)
    return [ranges[None], *(ranges[v] for v in sorted(releases, reverse=True))]
