"""Who made each change: the pure decisions behind crediting people in release notes."""

from __future__ import annotations

import pytest

from release.credits import (
    Credit,
    Person,
    batches,
    co_authors,
    credit_query,
    is_bot,
    new_contributors,
    parse_credits,
    pull_request_offline,
    pulls_from_merges,
    with_offline_pulls,
)


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("feat: device flow (#123)", 123),
        ("feat: device flow (#123) ", 123),
        ("Merge pull request #45 from alice/device-flow", 45),
        ("fix: see (#12) for the cause", None),  # a reference, not the squash suffix
        ("feat: device flow", None),
        ("Merge branch 'main' into develop", None),
        ("Merge pull request #x from alice/y", None),
    ],
)
def test_the_pull_request_a_subject_names(subject: str, number: int | None) -> None:
    assert pull_request_offline(subject) == number


@pytest.mark.parametrize(
    ("body", "people"),
    [
        ("", []),
        (
            "Details.\n\nCo-authored-by: Bob Builder <bob@example.com>\n"
            "co-authored-by: Carol <carol@example.com>",
            [Person("Bob Builder", "bob@example.com"), Person("Carol", "carol@example.com")],
        ),
        (
            "Co-authored-by: Bob <bob@example.com>\nCo-authored-by: Bob B <BOB@example.com>",
            [Person("Bob", "bob@example.com")],
        ),
        ("Co-authored-by: nobody without an address", []),
    ],
)
def test_co_authors_come_from_the_trailers(body: str, people: list[Person]) -> None:
    assert co_authors(body) == people


@pytest.mark.parametrize(
    ("login", "bot"),
    [
        ("dependabot[bot]", True),
        ("renovate[bot]", True),
        ("github-actions[bot]", True),
        ("some-app[bot]", True),
        ("renovate", True),
        ("Dependabot", True),
        ("alice", False),
        ("botanist", False),
    ],
)
def test_bots_are_known_by_their_suffix_or_the_configured_names(login: str, bot: bool) -> None:
    assert is_bot(login) is bot


def test_one_query_per_batch_of_commits() -> None:
    shas = [f"{i:040x}" for i in range(120)]
    assert [len(b) for b in batches(shas)] == [50, 50, 20]
    query = credit_query(shas[:2])
    assert query.count("object(oid:") == 2
    assert f'c1: object(oid: "{shas[1]}")' in query


def test_the_answer_is_read_per_commit() -> None:
    data = {
        "repository": {
            "c0": {
                "associatedPullRequests": {"nodes": [{"number": 7, "author": {"login": "alice"}}]},
                "authors": {
                    "nodes": [
                        {"email": "Alice@example.com", "user": {"login": "alice"}},
                        {"email": "bob@example.com", "user": {"login": "bob"}},
                        {"email": "ghost@example.com", "user": None},
                    ]
                },
            },
            "c1": {
                "associatedPullRequests": {"nodes": []},
                "authors": {"nodes": [{"email": "carol@example.com", "user": {"login": "carol"}}]},
            },
            "c2": None,
        }
    }
    assert parse_credits(["a" * 40, "b" * 40, "c" * 40], data) == {
        "a" * 40: Credit(
            7, "alice", ("bob",), (("alice@example.com", "alice"), ("bob@example.com", "bob"))
        ),
        "b" * 40: Credit(None, "carol", (), (("carol@example.com", "carol"),)),
    }


def credit(pull: int | None, login: str, *others: tuple[str, str]) -> Credit:
    identities = ((f"{login}@example.com", login), *others)
    return Credit(pull, login, tuple(o[1] for o in others), identities)


@pytest.mark.parametrize(
    ("credits", "earlier", "expected"),
    [
        pytest.param(
            {"1": credit(10, "alice"), "2": credit(11, "bob")},
            {"alice@example.com"},
            [("bob", 11)],
            id="alice wrote before the range, bob did not",
        ),
        pytest.param(
            {"1": credit(10, "bob"), "2": credit(12, "bob")},
            set(),
            [("bob", 10)],
            id="a newcomer is listed once, with the first pull request",
        ),
        pytest.param(
            {"1": credit(10, "alice", ("carol@example.com", "carol"))},
            {"alice@example.com"},
            [("carol", 10)],
            id="a co-author can be new beside an old hand",
        ),
        pytest.param(
            {"1": credit(13, "dependabot[bot]"), "2": credit(14, "renovate")},
            set(),
            [],
            id="bots are never new contributors",
        ),
        pytest.param(
            {"1": Credit(15, "maintainer", ("dave",), (("dave@example.com", "dave"),))},
            set(),
            [("dave", 15)],
            id="a pull request author with no commit of theirs is not claimed new; its author is",
        ),
        pytest.param(
            {"1": credit(16, "erin")},
            {"ERIN@example.com"},
            [],
            id="emails compare without case",
        ),
    ],
)
def test_new_contributors(
    credits: dict[str, Credit], earlier: set[str], expected: list[tuple[str, int | None]]
) -> None:
    assert new_contributors(list(credits), earlier, credits) == expected


def merge(number: int) -> str:
    return f"Merge pull request #{number} from alice/branch-{number}"


# Graphs oldest first: (sha, parents, subject); the last entry is the tip released.
GRAPHS = {
    "squash merges only: no merge commit, nothing": (
        [("a", (), "feat: a (#1)"), ("b", ("a",), "fix: b (#2)")],
        {},
    ),
    "a pull request's branch": (
        [("a", (), "feat: a"), ("b1", ("a",), "feat: b1"), ("b2", ("b1",), "fix: b2"),
         ("m", ("a", "b2"), merge(4))],
        {"b1": 4, "b2": 4, "m": 4},
    ),
    "a branch that started before the range: its commits in the range only": (
        [("b1", ("outside",), "feat: b1"), ("a", ("before",), "feat: a"),
         ("m", ("a", "b1"), merge(4))],
        {"b1": 4, "m": 4},
    ),
    "main merged into the branch: main's commits stay unattributed": (
        [("a", (), "feat: a"), ("b1", ("a",), "feat: b1"), ("c", ("a",), "fix: c"),
         ("x", ("b1", "c"), "Merge branch 'main' into b"), ("m", ("c", "x"), merge(4))],
        {"b1": 4, "x": 4, "m": 4},
    ),
    "a pull request merged into another's branch keeps its own commits": (
        [("a", (), "feat: a"), ("b1", ("a",), "feat: b1"), ("s1", ("b1",), "feat: s1"),
         ("n", ("b1", "s1"), merge(5)), ("m", ("a", "n"), merge(4))],
        {"s1": 5, "n": 5, "b1": 4, "m": 4},
    ),
    "a branch merged twice: the older commits are the first pull request's": (
        [("a", (), "feat: a"), ("b1", ("a",), "feat: b1"), ("m1", ("a", "b1"), merge(4)),
         ("b2", ("b1",), "feat: b2"), ("m2", ("m1", "b2"), merge(6))],
        {"b1": 4, "m1": 4, "b2": 6, "m2": 6},
    ),
    "a merge that names no pull request brings none": (
        [("a", (), "feat: a"), ("b1", ("a",), "feat: b1"), ("m", ("a", "b1"), "Merge branch 'b'")],
        {},
    ),
    "the mainline's own commits after a merge are nobody's pull request": (
        [("a", (), "feat: a"), ("b1", ("a",), "feat: b1"), ("m", ("a", "b1"), merge(4)),
         ("d", ("m",), "docs: d")],
        {"b1": 4, "m": 4},
    ),
    "no commits": ([], {}),
}  # fmt: skip


@pytest.mark.parametrize(("graph", "expected"), GRAPHS.values(), ids=GRAPHS)
def test_a_merged_branch_s_commits_get_its_pull_request(
    graph: list[tuple[str, tuple[str, ...], str]], expected: dict[str, int]
) -> None:
    assert pulls_from_merges(graph) == expected


def test_git_s_pull_requests_fill_in_what_github_does_not_name() -> None:
    github = {"a": Credit(7, "alice"), "b": Credit(None, "bob")}
    assert with_offline_pulls(github, {"a": 4, "b": 5, "c": 6}) == {
        "a": Credit(7, "alice"),  # GitHub's answer stands
        "b": Credit(5, "bob"),
        "c": Credit(6, None),
    }
