"""Which commits belong to which release: ranges between release tags, read fast from git.

One rule defines every range, for `release.notes` and `release.changelog` alike: release X
covers the commits reachable from its tag and not from its previous release (the highest
earlier release that is an ancestor of X; stable for a stable X), exactly `git log PREV..X`,
in git log's order. The full history computes that rule for every tag at once from one read
of the commit graph, so each changelog section equals its release's notes by construction.

Speed matters here (the notes of a 50k-commit history): git is read with one `git log` of a
machine-readable format per question, never commit by commit, and the full history by two
`git rev-list`s of graph, walk dates and messages, each parsed while git writes it, then
walked in Python.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import semver

from release.commits import Commit, parse
from release.errors import ReleaseError
from release.git import read, read_records, succeeds
from release.version import TAG_PREFIX, is_stable, release_version

# Each field ends in a NUL (with -z, the last one too), which no message holds: a subject may
# hold any other byte. Subject and body in UTF-8 whatever encoding each commit was recorded in
# (i18n.commitEncoding), and no signature check (log.showSignature) printed among them.
LOG = ("log", "-z", "--encoding=UTF-8", "--no-show-signature")
LOG_FORMAT = "--format=%H%x00%s%x00%b"
TAG_FORMAT = (
    "--format=%(refname:strip=2)%00%(objecttype)%00%(objectname)"
    "%00%(*objecttype)%00%(*objectname)%00%(creatordate:short)"
)
# A tag that names a version, whatever its prefix: `v1.2.0`, `1.2.0`, `name-v0.3.160`, `py-1.0.0`.
VERSION_LIKE = re.compile(r"(?P<prefix>.*?)(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)")
UNSHALLOW = "run git fetch --unshallow --tags (in GitHub Actions: fetch-depth: 0 on checkout)"


def git_dir(root: Path) -> Path:
    """The repository's git directory; refuses a shallow clone, whose ranges would be cut."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        directory, shallow = dot_git, (dot_git / "shallow").exists()
    else:
        lines = read(root, "rev-parse", "--absolute-git-dir", "--is-shallow-repository").split()
        directory, shallow = Path(lines[0].decode()), lines[1] == b"true"
    if shallow:
        raise ReleaseError(
            f"{root} is a shallow clone, so release notes would miss the commits it lacks",
            UNSHALLOW,
        )
    return directory


def tip_commit(root: Path, target: str) -> str:
    """The commit `target` names; refused in one line where it names none (a repository with
    no commit yet, an unborn branch checked out), naming a branch that has commits."""
    try:
        return read(root, "rev-parse", "--verify", f"{target}^{{commit}}").decode().strip()
    except ReleaseError:
        names = read(
            root, "for-each-ref", "--count=1", "--format=%(refname)", "refs/heads", "refs/remotes"
        ).decode()
        if not names.strip():
            raise ReleaseError(
                "the repository has no commit yet", "commit the project first"
            ) from None
        ref = names.split()[0]
        if is_bare(root):
            fix = f"point HEAD at a branch that has commits: git symbolic-ref HEAD {ref}"
        else:
            branch = ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
            if ref.startswith("refs/remotes/"):
                branch = branch.partition("/")[2]  # git switch makes it, tracking the remote
            fix = f"switch to a branch that has commits: git switch {branch}"
        raise ReleaseError(f"{target} names no commit", fix) from None


def toplevel(path: Path) -> Path:
    """The repository `path` is in (a subdirectory names its repository); for a bare
    repository, its git directory: notes and changelogs need no work tree, as git-cliff's."""
    return repository(path)[0]


def repository(path: Path) -> tuple[Path, bool]:
    """toplevel(path), and whether the repository is bare: one git call for a work tree."""
    try:
        bare, top = read(path, "rev-parse", "--is-bare-repository", "--show-toplevel").split(b"\n")[
            :2
        ]
        if bare == b"false":
            return Path(top.decode()), False
    except (ReleaseError, ValueError):
        if not is_bare(path):
            raise
    return Path(read(path, "rev-parse", "--absolute-git-dir").decode().strip()), True


def is_bare(path: Path) -> bool:
    try:
        return read(path, "rev-parse", "--is-bare-repository").strip() == b"true"
    except ReleaseError:
        return False


def committed_file(root: Path, path: str) -> bytes:
    """`path` as HEAD holds it (b"" when it holds none): a bare repository's files."""
    try:
        return read(root, "cat-file", "blob", f"HEAD:{path}")
    except ReleaseError:
        return b""


@dataclass(frozen=True)
class Release:
    version: semver.Version
    commit: str
    date: str
    # The tag as written, prefix included (`v1.2.0`, `1.2.0`, `name-v1.2.0`).
    tag: str


@dataclass
class Range:
    """The commits of one release (or of the unreleased work when `release` is None)."""

    release: Release | None
    previous: Release | None
    commits: list[Commit] = field(default_factory=list)


def release_tags(root: Path, prefix: str = TAG_PREFIX) -> dict[semver.Version, Release]:
    """Every tag `<prefix><semver>` that names a commit, by version.

    When none does but some tags look like versions, the prefix is wrong for this repository:
    that is refused, naming a few of them and the setting to change, rather than notes over
    the whole history.
    """
    releases = {}
    names = []
    output = read(root, "for-each-ref", TAG_FORMAT, "refs/tags").decode(errors="replace")
    for line in output.splitlines():
        name, kind, obj, peeled_kind, peeled, day = line.split("\0")
        if (peeled_kind or kind) != "commit":
            continue
        names.append(name)
        version = release_version(name, prefix)
        if version is not None:
            releases[version] = Release(version, peeled or obj, day, name)
    if not releases:
        refuse_unmatched_prefix(names, prefix)
    return releases


def refuse_unmatched_prefix(names: Sequence[str], prefix: str) -> None:
    by_prefix: dict[str, list[tuple[semver.Version, str]]] = {}
    for name in names:
        match = VERSION_LIKE.fullmatch(name)
        if match and (version := release_version(match["version"], "")) is not None:
            by_prefix.setdefault(match["prefix"], []).append((version, name))
    if not by_prefix:
        return
    likely = max(by_prefix, key=lambda candidate: len(by_prefix[candidate]))
    examples = [name for _, name in sorted(by_prefix[likely], reverse=True)[:3]]
    count = sum(map(len, by_prefix.values()))
    look = "1 tag looks like a release" if count == 1 else f"{count} tags look like releases"
    raise ReleaseError(
        f'no tag matches tag-prefix "{prefix}" ({prefix}1.2.0), but {look} '
        f"({', '.join(examples)}{', ...' if count > len(examples) else ''})",
        f'set tag-prefix = "{likely}" in [tool.barycenter.release] of pyproject.toml',
    )


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
    """The commits of a `git log` of LOG and LOG_FORMAT: three fields each."""
    fields = output.decode(errors="replace").split("\0")[:-1]
    return [parse(sha, subject, body.strip()) for sha, subject, body in in_threes(fields)]


def in_threes(fields: list[str]) -> Iterator[tuple[str, str, str]]:
    return zip(*[iter(fields)] * 3, strict=True)


def read_commits(root: Path, *revisions: str) -> list[Commit]:
    """Non-merge commits of a revision range, in git log's order (newest first)."""
    return parse_log(read(root, *LOG, "--no-merges", LOG_FORMAT, *revisions, "--"))


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    return succeeds(root, "merge-base", "--is-ancestor", ancestor, descendant)


PROBES = 6


def find_previous(
    root: Path,
    version: semver.Version | None,
    releases: dict[semver.Version, Release],
    tip: str,
    prefix: str = TAG_PREFIX,
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
    merged = read(root, "tag", "--merged", tip).decode(errors="replace").split()
    ancestors = [
        v for name in merged if (v := release_version(name, prefix)) is not None and v != version
    ]
    return previous_release(version, [v for v in ancestors if v in releases])


def release_range(
    root: Path,
    version: semver.Version | None,
    target: str = "HEAD",
    prefix: str = TAG_PREFIX,
    only_next: bool = False,
) -> Range:
    """The range of one release: from its previous release to `target` (its tag, if it exists).

    With `only_next`, a version without a tag must be above every release reachable from
    `target`: the notes of a version never released below those would be of no release.
    """
    git_dir(root)
    releases = release_tags(root, prefix)
    this = releases.get(version) if version is not None else None
    if this is None:
        tip_commit(root, target)  # refuses a target that names no commit, in one line
    if version is not None and this is None and only_next:
        highest = find_previous(root, None, releases, target, prefix)
        if highest is not None and version <= highest:
            raise ReleaseError(
                f"{prefix}{version} was never released, and it is not above "
                f"{releases[highest].tag}, the highest release reachable from {target}",
                f"pass the version of an existing tag, or one above {highest} for the notes "
                "of the next release",
            )
    tip = this.commit if this else target
    previous = find_previous(root, version, releases, tip, prefix)
    start = releases[previous] if previous is not None else None
    revisions = [tip] + ([f"^{start.commit}"] if start else [])
    return Range(this, start, read_commits(root, *revisions))


@dataclass
class Graph:
    """The commits reachable from some tips: each before its parents, with parents and dates."""

    order: list[str]
    parents: dict[str, list[str]]
    dates: dict[str, int]


# One record per commit, merges included: the graph and the message in one read, by rev-list
# because its --timestamp is the date git's walk orders by (git log's %ct can differ: a
# committer line the formatter cannot parse, `+1700000060`, or a second one). Each record is
# `[\n]TIMESTAMP SHA`, parents, subject, body, each field ending in a NUL.
HISTORY = (
    "rev-list",
    "--timestamp",
    "--no-commit-header",
    "--encoding=UTF-8",
    "--format=%H%x00%P%x00%s%x00%b%x00",
)
HISTORY_FIELDS = 4


@dataclass
class HistoryPart:
    """The commits one read of HISTORY showed, parsed as git wrote them."""

    stop: threading.Event  # once set, the next batch ends the read, and its git with it
    shown: list[str] = field(default_factory=list)  # git's order
    parents: dict[str, list[str]] = field(default_factory=dict)
    dates: dict[str, int] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)  # merges left out

    def take(self, records: Iterator[tuple[str, ...]]) -> None:
        if self.stop.is_set():
            raise ReleaseError("reading the history was stopped", "run the same command again")
        show, parents, dates, commits = self.shown.append, self.parents, self.dates, self.commits
        for stamped, line, subject, body in records:
            date, sha = stamped.split()
            show(sha)
            above = parents[sha] = line.split()
            dates[sha] = int(date)
            if len(above) < 2:
                commits[sha] = parse(sha, subject, body.strip())


def read_part(
    root: Path, tips: Sequence[str], *bounds: str, stop: threading.Event | None = None
) -> HistoryPart:
    """The commits `git rev-list BOUNDS TIPS` shows; `stop`, once set, ends the read and its
    git."""
    found = HistoryPart(stop or threading.Event())
    read_records(root, found.take, HISTORY_FIELDS, *HISTORY, *bounds, *tips, "--")
    return found


def read_history(root: Path, tips: Sequence[str]) -> tuple[Graph, dict[str, Commit]]:
    """The graph of every commit reachable from `tips`, and each non-merge commit's message.

    git's reading of the commits is the floor here, so two reads share it, the commits after
    and up to the tips' median date, parsed while git writes them. A clock that went back can
    hide commits from such a split (git stops a date-bounded walk at an older commit): then
    the history is read whole.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    stamps = read(root, "rev-list", "--no-walk", "--timestamp", *tips, "--").split()[::2]
    if len(stamps) > 2:
        middle = sorted(map(int, stamps))[len(stamps) // 2]
        # Either half failing, or Ctrl-C, stops the other at its next piece, its git with it.
        stop = threading.Event()

        def stop_if_failed(done: Future[HistoryPart]) -> None:
            if done.exception() is not None:
                stop.set()

        with ThreadPoolExecutor(max_workers=1) as pool:
            up_to = pool.submit(read_part, root, tips, f"--until={middle}", stop=stop)
            up_to.add_done_callback(stop_if_failed)
            try:
                after = read_part(root, tips, f"--since={middle + 1}", stop=stop)
                older = up_to.result()  # a Ctrl-C or SIGTERM while waiting stops it too
            except BaseException as failure:
                stop.set()
                other = up_to.exception() if up_to.done() else None
                if isinstance(failure, ReleaseError) and other is not None:
                    raise other from None  # what stopped this half: the other's failure
                raise
        parents = {**after.parents, **older.parents}
        order = children_first(after.shown + older.shown, parents)
        if order is not None and all(tip in parents for tip in tips):
            graph = Graph(order, parents, {**after.dates, **older.dates})
            return graph, {**after.commits, **older.commits}
    found = read_part(root, tips)
    order = children_first(found.shown, found.parents)
    if order is None:
        raise ReleaseError(
            f"git rev-list in {root} left out parents of the commits it showed",
            "check the repository with git fsck",
        )
    return Graph(order, found.parents, found.dates), found.commits


def children_first(shown: list[str], parents: dict[str, list[str]]) -> list[str] | None:
    """The commits in an order where each comes before all its parents: git's order,
    unless a clock that went back made git show a parent before a child; then the reverse of
    a depth-first order of the graph. None when a parent was not read, or a commit twice; a
    refusal when there is no such order (a replacement made a cycle)."""
    # A parent not read fails the test (-1); the lines below tell the cases apart.
    if precedes_its_parents(shown, parents):
        return shown if len(set(shown)) == len(shown) else None
    known = set(shown)
    if len(known) != len(shown) or any(p not in known for p in chain(*parents.values())):
        return None
    order: list[str] = []  # parents first
    entered: set[str] = set()
    for tip in shown:
        if tip in entered:
            continue
        entered.add(tip)
        stack = [(tip, iter(parents[tip]))]
        while stack:
            sha, pending = stack[-1]
            parent = next((p for p in pending if p not in entered), None)
            if parent is None:
                order.append(sha)
                stack.pop()
                continue
            entered.add(parent)
            stack.append((parent, iter(parents[parent])))
    if len(order) == len(shown) and precedes_its_parents(order[::-1], parents):
        return order[::-1]
    raise ReleaseError(
        "the history has a cycle: a replacement (git replace, .git/info/grafts) makes a commit "
        "its own ancestor",
        "list them with git replace -l and delete the one that loops: git replace -d SHA",
    )


def precedes_its_parents(order: list[str], parents: dict[str, list[str]]) -> bool:
    position = {sha: index for index, sha in enumerate(order)}
    return all(position.get(p, -1) > index for index, sha in enumerate(order) for p in parents[sha])


def ancestor_releases(
    releases: dict[semver.Version, Release], head: str, reached: dict[str, int], bit: dict[str, int]
) -> dict[semver.Version | None, list[semver.Version]]:
    """For each release (and None: `head`), the other releases its commit descends from
    (a release at the same commit included, as `git merge-base --is-ancestor` says), in
    ascending order: those whose commit is reached from its commit's bit (`reached_by`)."""
    versions = sorted(releases)
    masks = [reached[releases[v].commit] for v in versions]
    found: dict[semver.Version | None, list[semver.Version]] = {}
    for index, version in enumerate(versions):
        mask = bit[releases[version].commit]
        # By position, not by version: semver's comparisons cost, 97 releases make 9k of them.
        found[version] = [v for i, v in enumerate(versions) if i != index and masks[i] & mask]
    mask = bit[head]
    found[None] = [v for i, v in enumerate(versions) if masks[i] & mask]
    return found


def reached_by(graph: Graph, starts: Sequence[str]) -> dict[str, int]:
    """For each commit, the bitset of `starts` (by index) it is reachable from.

    One pass, children first: a commit is reached by what reaches any of its children.
    """
    at: dict[str, int] = {}
    for bit, sha in enumerate(starts):
        at[sha] = at.get(sha, 0) | (1 << bit)
    reached: dict[str, int] = {}
    parents = graph.parents
    for sha in graph.order:
        mask = reached.get(sha, 0) | at.get(sha, 0)
        reached[sha] = mask
        for parent in parents[sha]:
            reached[parent] = reached.get(parent, 0) | mask
    return reached


def walk(graph: Graph, tip: str, excluded: int, reached: dict[str, int]) -> list[str]:
    """`git log tip ^previous` from the graph: the commits reachable from `tip` whose `reached`
    bitset lacks every bit of `excluded` (previous's), in git log's default order.

    That order is a walk from the tip through a list kept sorted by commit date, newest first,
    a parent inserted after those of equal date: a heap keyed (-date, insertion).
    """
    import heapq

    if reached[tip] & excluded:
        return []
    parents, dates = graph.parents, graph.dates
    seen = {tip}
    shown: list[str] = []
    queue: list[tuple[int, int, str]] = []
    counter = 0
    sha: str | None = tip
    while sha is not None:
        shown.append(sha)
        above = parents[sha]
        if len(above) == 1 and not queue:
            parent = above[0]  # a straight line: no need for the heap
            if parent not in seen and not reached[parent] & excluded:
                seen.add(parent)
                sha = parent
                continue
        fresh = [p for p in above if p not in seen and not reached[p] & excluded]
        seen.update(fresh)
        for parent in fresh:
            counter += 1
            heapq.heappush(queue, (-dates[parent], counter, parent))
        sha = heapq.heappop(queue)[2] if queue else None
    return shown


CACHE_FORMAT = "ranges-v3"


def cache_path(directory: Path) -> Path:
    return directory / "barycenter-release" / f"{CACHE_FORMAT}.json"


def tags_key(releases: dict[semver.Version, Release]) -> str:
    """Released ranges depend only on the release tags and the commits they name; both are
    immutable once released, so this key says when cached ranges still hold."""
    import hashlib  # here, not at the top: `release.notes` answers faster without it

    lines = sorted(f"{r.tag} {r.commit}" for r in releases.values())
    return hashlib.sha256("\n".join([CACHE_FORMAT, *lines]).encode()).hexdigest()


def cached_ranges(directory: Path, releases: dict[semver.Version, Release]) -> list[Range] | None:
    """The cached released ranges, or None when there are none, stale or unreadable ones."""
    import json

    try:
        data = json.loads(cache_path(directory).read_text())
        if data["key"] != tags_key(releases):
            return None
        ranges = []
        for entry in data["ranges"]:
            version = semver.Version.parse(entry["version"])
            previous = semver.Version.parse(entry["previous"]) if entry["previous"] else None
            commits = [Commit(*row) for row in entry["commits"]]
            ranges.append(
                Range(releases[version], releases[previous] if previous else None, commits)
            )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # missing, or written by something else: read from git and rewrite it
    return ranges


def store_ranges(
    directory: Path, releases: dict[semver.Version, Release], ranges: list[Range]
) -> None:
    """Cache the released ranges; a git directory that cannot be written goes without."""
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
    path = cache_path(directory)
    partial = path.with_suffix(".partial")
    try:
        path.parent.mkdir(exist_ok=True)
        partial.write_text(json.dumps({"key": tags_key(releases), "ranges": entries}))
        partial.replace(path)
        for stale in path.parent.glob("ranges-*.json"):
            if stale != path:
                stale.unlink()
    except OSError:
        return


def full_history(
    root: Path, head: str = "HEAD", use_cache: bool = True, prefix: str = TAG_PREFIX
) -> list[Range]:
    """Every release's range and the unreleased work (first), newest release first.

    Released ranges are cached in the git directory, keyed by the release tags; the unreleased
    range is always read afresh.
    """
    directory = git_dir(root)
    releases = release_tags(root, prefix)
    if use_cache:
        released = cached_ranges(directory, releases)
        if released is not None:
            return [release_range(root, None, head, prefix), *released]
    ranges = read_full_history(root, releases, head)
    if use_cache:
        store_ranges(directory, releases, ranges)
    return ranges


def read_full_history(
    root: Path, releases: dict[semver.Version, Release], head: str
) -> list[Range]:
    """full_history() from git alone: one read of every commit and the graph, and for each
    release the walk `git log release ^previous` would make."""
    head_commit = tip_commit(root, head)
    tips = list(dict.fromkeys([*(r.commit for r in releases.values()), head_commit]))
    graph, by_sha = read_history(root, tips)
    reached = reached_by(graph, tips)
    bit = {sha: 1 << index for index, sha in enumerate(tips)}
    ancestors = ancestor_releases(releases, head_commit, reached, bit)
    ranges: list[Range] = []
    for version in [None, *sorted(releases, reverse=True)]:
        this = releases[version] if version is not None else None
        previous = previous_release(version, ancestors[version])
        start = releases[previous] if previous is not None else None
        shas = walk(
            graph, this.commit if this else head_commit, bit[start.commit] if start else 0, reached
        )
        found = (by_sha.get(sha) for sha in shas)
        ranges.append(Range(this, start, [c for c in found if c is not None]))
    return ranges
