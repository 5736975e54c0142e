"""Who made each change, for release notes that credit people as GitHub's generated notes do:
"by @alice in #123", and a "New Contributors" section.

Offline, git alone tells a pull request number (a squash merge's `… (#123)` subject, a merge
commit's "Merge pull request #123 from …") and the co-authors (`Co-authored-by:` trailers).
With a token, one GraphQL query per BATCH commits asks GitHub for each commit's pull request
and its author's login: `ceil(N / BATCH)` calls for N commits, and none for commits whose
answer is cached. A first-time contributor is a login none of whose commits' authors (by
email) has a commit before the release's range; bots are never credited.

The pure functions here decide (`pulls_from_merges`: the offline pull request of a merged
branch's commits); `read_credits` is the only one that talks to GitHub, `people_for` the one
entry for every place notes appear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from release.config import ReleaseConfig
    from release.github import GitHubClient
    from release.notes import Notes, People

BATCH = 50
DEFAULT_BOTS = ("dependabot", "renovate", "github-actions")
SQUASH_NUMBER = re.compile(r"\(#(\d+)\)\s*$")
MERGE_NUMBER = re.compile(r"^Merge pull request #(\d+) from ")
CO_AUTHOR = re.compile(r"^Co-authored-by:\s*(.+?)\s*<([^<>\s]+)>\s*$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class Credit:
    """What GitHub knows of one commit: its pull request and the logins of its authors."""

    pull_request: int | None
    login: str | None  # the pull request's author, else the commit's
    co_logins: tuple[str, ...] = ()
    # (email, login) of each commit author GitHub matched to an account
    identities: tuple[tuple[str, str], ...] = ()


def pull_request_offline(subject: str) -> int | None:
    """The pull request a subject names as squash and merge commits do, else None."""
    found = MERGE_NUMBER.match(subject) or SQUASH_NUMBER.search(subject)
    return int(found[1]) if found else None


def co_authors(body: str) -> list[Person]:
    """The `Co-authored-by:` trailers of a message body, in order, each person once."""
    seen: dict[str, Person] = {}
    for name, email in CO_AUTHOR.findall(body):
        seen.setdefault(email.lower(), Person(name, email))
    return list(seen.values())


def is_bot(login: str, bots: Sequence[str] = DEFAULT_BOTS) -> bool:
    """A GitHub App's login ends in `[bot]`; the configured names are bots however written."""
    bare = login.lower().removesuffix("[bot]")
    return login.lower().endswith("[bot]") or bare in {b.lower() for b in bots}


def credit_query(shas: Sequence[str]) -> str:
    """One GraphQL query asking, for each commit, its first pull request and its authors."""
    fields = (
        "... on Commit { associatedPullRequests(first: 1) { nodes { number author { login } } }"
        " authors(first: 10) { nodes { email user { login } } } }"
    )
    objects = " ".join(f'c{i}: object(oid: "{sha}") {{ {fields} }}' for i, sha in enumerate(shas))
    return (
        "query Credits($owner: String!, $name: String!) "
        f"{{ repository(owner: $owner, name: $name) {{ {objects} }} }}"
    )


def parse_credits(shas: Sequence[str], data: Mapping[str, Any]) -> dict[str, Credit]:
    """The answer to `credit_query(shas)`, per commit (a commit GitHub does not know: absent)."""
    repository = data.get("repository") or {}
    found: dict[str, Credit] = {}
    for index, sha in enumerate(shas):
        commit = repository.get(f"c{index}")
        if not commit:
            continue
        pulls = (commit.get("associatedPullRequests") or {}).get("nodes") or []
        pull = pulls[0] if pulls else None
        identities = tuple(
            (str(node.get("email") or "").lower(), str(node["user"]["login"]))
            for node in (commit.get("authors") or {}).get("nodes") or []
            if (node.get("user") or {}).get("login")
        )
        logins = [login for _, login in identities]
        pull_author = ((pull or {}).get("author") or {}).get("login")
        login = pull_author or (logins[0] if logins else None)
        found[sha] = Credit(
            pull_request=pull["number"] if pull else None,
            login=login,
            co_logins=tuple(dict.fromkeys(x for x in logins if x != login)),
            identities=identities,
        )
    return found


def batches(shas: Sequence[str], size: int = BATCH) -> Iterable[Sequence[str]]:
    for start in range(0, len(shas), size):
        yield shas[start : start + size]


def new_contributors(
    range_shas: Sequence[str],
    earlier_emails: set[str],
    credits: Mapping[str, Credit],
    bots: Sequence[str] = DEFAULT_BOTS,
) -> list[tuple[str, int | None]]:
    """Each login whose first contribution is in this range, with its first pull request
    here, in the range's order (oldest first).

    A login's emails are those GitHub matched it to in this range; it is new when none of them
    authored or co-authored a commit before the range (`earlier_emails`, from git). A login
    with no matched email (a pull request's author who wrote none of its commits) is not
    claimed new: nothing says it is. Bots are never listed."""
    emails: dict[str, set[str]] = {}
    for sha in range_shas:
        for email, matched in credits[sha].identities if sha in credits else ():
            emails.setdefault(matched, set()).add(email.lower())
    earlier = {email.lower() for email in earlier_emails}
    first: dict[str, int | None] = {}
    for sha in range_shas:
        credit = credits.get(sha)
        if credit is None:
            continue
        for candidate in (credit.login, *credit.co_logins):
            if not candidate or candidate in first or is_bot(candidate, bots):
                continue
            known = emails.get(candidate, set())
            if known and not known & earlier:
                first[candidate] = credit.pull_request
    return list(first.items())


def read_credits(
    client: GitHubClient, shas: Sequence[str], known: Mapping[str, Credit] | None = None
) -> tuple[dict[str, Credit], int]:
    """Each commit's credit from GitHub, one query per BATCH of those not `known` (cached);
    with the number of calls made."""
    found = dict(known or {})
    wanted = [sha for sha in dict.fromkeys(shas) if sha not in found]
    calls = 0
    for batch in batches(wanted):
        calls += 1
        data = client.graphql(
            f"credits for {len(batch)} commits",
            credit_query(batch),
            {"owner": client.owner, "name": client.name},
        )
        found.update(parse_credits(batch, data))
    return found, calls


CACHE_NAME = "barycenter-credits.json"


def cache_file(root: Path) -> Path:
    """Beside the notes cache, in the git directory: per repository, never committed."""
    from release.history import git_dir

    return git_dir(root) / CACHE_NAME


def read_cache(path: Path, repository: str) -> dict[str, Credit]:
    import json

    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("repository") != repository:
        return {}
    found = {}
    for sha, (pull, login, co_logins, identities) in document.get("credits", {}).items():
        found[sha] = Credit(pull, login, tuple(co_logins), tuple(map(tuple, identities)))
    return found


def write_cache(path: Path, repository: str, credits: Mapping[str, Credit]) -> None:
    import contextlib
    import json

    from release.dist import write_atomically

    document = {
        "repository": repository,
        "credits": {
            sha: [c.pull_request, c.login, list(c.co_logins), [list(i) for i in c.identities]]
            for sha, c in credits.items()
        },
    }
    # A read-only .git keeps nothing: the next run asks GitHub again.
    with contextlib.suppress(OSError):
        write_atomically(path, json.dumps(document).encode())


def earlier_emails(root: Path, previous_tag: str | None) -> set[str]:
    """Every author and co-author email of the commits before the range (none before the
    first release)."""
    if previous_tag is None:
        return set()
    from release.git import read as git

    log = git(root, "log", "--format=%ae%n%b%x00", previous_tag).decode(errors="replace")
    emails = set()
    for record in log.split("\0"):
        first, _, body = record.strip().partition("\n")
        if first:
            emails.add(first.strip().lower())
        emails.update(person.email.lower() for person in co_authors(body))
    return emails


GraphEntry = tuple[str, tuple[str, ...], str]  # (sha, parents, subject)


def range_graph(root: Path, notes: Notes, tip: str | None = None) -> list[GraphEntry]:
    """The release's commits, merges too, oldest first (topologically: made in one second,
    they still come in order), each with its parents and subject: one git call."""
    from release.git import read as git

    head = tip or notes.tag or "HEAD"
    revisions = [head] + ([f"^{notes.previous_tag}"] if notes.previous_tag else [])
    # NUL-led records: a subject may hold any other character (\r, \x1c, U+2028…).
    log = git(
        root, "log", "--reverse", "--topo-order", "--format=%x00%H %P%x1f%s", *revisions, "--"
    )
    graph = []
    for record in log.decode(errors="replace").split("\0")[1:]:
        ids, _, subject = record.removesuffix("\n").partition("\x1f")
        sha, *parents = ids.split()
        graph.append((sha, tuple(parents), subject))
    return graph


def pulls_from_merges(graph: Sequence[GraphEntry]) -> dict[str, int]:
    """The pull request of each commit a "Merge pull request #N from …" commit brought in.

    A merge brings the commits behind its second parent that its first parent lacks. Walking
    back stops at the first-parent history of the range's tip (the branch released) and at
    the range's start; what the first parent's side also reaches (a branch merged into a
    branch) is its, not this merge's. Merges are taken oldest first, and a commit keeps the
    first pull request that brought it: a branch merged twice credits its older commits to
    the first merge, and a pull request merged into another's branch keeps its own commits.
    """
    parents_of = {sha: parents for sha, parents, _ in graph}
    mainline: set[str] = set()
    walk = graph[-1][0] if graph else None
    while walk is not None and walk in parents_of and walk not in mainline:
        mainline.add(walk)
        walk = parents_of[walk][0] if parents_of[walk] else None

    def side(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            sha = todo.pop()
            if sha in seen or sha in mainline or sha not in parents_of:
                continue
            seen.add(sha)
            todo.extend(parents_of[sha])
        return seen

    found: dict[str, int] = {}
    for sha, parents, subject in graph:
        merged = MERGE_NUMBER.match(subject)
        if merged is None or len(parents) != 2:
            continue
        number = int(merged[1])
        found.setdefault(sha, number)
        for brought in side(parents[1]) - side(parents[0]):
            found.setdefault(brought, number)
    return found


def with_offline_pulls(
    credits: Mapping[str, Credit], offline: Mapping[str, int]
) -> dict[str, Credit]:
    """GitHub's credits, with the pull request git tells where GitHub names none."""
    from dataclasses import replace

    merged = dict(credits)
    for sha, number in offline.items():
        credit = merged.get(sha)
        if credit is None:
            merged[sha] = Credit(number, None)
        elif credit.pull_request is None:
            merged[sha] = replace(credit, pull_request=number)
    return merged


def people_for(
    root: Path,
    notes: Notes,
    config: ReleaseConfig,
    place: str,
    say: Callable[[str], None],
    tip: str | None = None,
    ask: bool = True,
) -> People | None:
    """Who made the notes' changes, for `place` ("github", "tag", "notes", "changelog"), the
    notes' range ending at `tip` (default: the notes' tag, else HEAD).

    Offline (no token, or `place` not in credit-people-in) it is what git tells: the pull
    request that merged each commit of a "Merge pull request #N" branch (None when there is
    none: the notes as they always were). With a token, GitHub also names each change's
    pull request and author, and the new contributors: one GraphQL call per BATCH commits
    not in the cache (none with `ask` False: the cache only, all or nothing). When GitHub
    cannot answer within credit-calls and github-max-wait, the offline form, said in one
    line: the release never fails because of credits."""
    if not config.source_url:
        return None  # without links, entries name no pull request nor person
    from release.notes import People

    shas = [commit.sha for commits in notes.groups.values() for commit in commits]
    if not shas:
        return None
    listed = set(shas)
    graph = range_graph(root, notes, tip)
    offline = {sha: n for sha, n in pulls_from_merges(graph).items() if sha in listed}
    offline_people = People(with_offline_pulls({}, offline), (), config.bots) if offline else None
    if place not in config.credit_people_in or not config.github_repository:
        return offline_people
    # The token's own module: asking whether there is one must not load githubkit.
    from release.github_token import token_from_environment

    token = token_from_environment()
    if not token:
        return offline_people
    # Only with a token: release.github loads githubkit, which offline notes never need.
    from release.errors import ReleaseError
    from release.github import GitHubClient, RetryPolicy

    path = cache_file(root)
    known = read_cache(path, config.github_repository)
    missing = sum(1 for sha in shas if sha not in known)
    if missing and not ask:
        return offline_people
    needed = -(-missing // BATCH)
    if needed > config.credit_calls:
        say(
            f"notes: {len(shas)} changes need {needed} GitHub calls, past credit-calls = "
            f"{config.credit_calls}: the notes name no logins"
        )
        return offline_people
    # A network that does not reach GitHub is told after two tries, not five: the notes
    # do not wait for logins; a rate limit is still waited out within github-max-wait.
    retry = RetryPolicy(attempts=2, first_pause=0.5, max_wait=float(config.github_max_wait))
    try:
        if needed:
            with GitHubClient(
                config.github_repository, config.github_api_url, token, say, retry
            ) as client:
                credits, _ = read_credits(client, shas, known)
            write_cache(path, config.github_repository, credits)
        else:
            credits = dict(known)
    except ReleaseError as error:
        say(f"notes: GitHub did not say who made the changes ({error}): the notes name no logins")
        return offline_people
    emails = earlier_emails(root, notes.previous_tag)
    range_shas = [sha for sha, _, _ in graph if sha in listed]
    return People(
        with_offline_pulls({sha: credits[sha] for sha in shas if sha in credits}, offline),
        new_contributors(range_shas, emails, credits, config.bots),
        config.bots,
    )
