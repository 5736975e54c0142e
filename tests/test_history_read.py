"""How the full history is read: one record per commit, parsed as git writes it, split in two
by date where that loses nothing, and put in an order where each commit precedes its parents."""

from __future__ import annotations

from pathlib import Path

import pytest

import release.history
from release import processes
from release.git import read, read_records
from release.history import (
    HISTORY_FORMAT,
    HistoryPart,
    children_first,
    read_history,
    read_part,
    release_tags,
    tip_commit,
)
from tests.histories import History

# a <- b <- c (c the newest), and m merging c and x; x a side commit on a.
PARENTS = {"m": ["c", "x"], "c": ["b"], "x": ["a"], "b": ["a"], "a": []}


def precedes_its_parents(order: list[str], parents: dict[str, list[str]]) -> bool:
    position = {sha: index for index, sha in enumerate(order)}
    return all(position[p] > position[sha] for sha in order for p in parents[sha])


@pytest.mark.parametrize(
    ("shown", "kept"),
    [
        (["m", "c", "x", "b", "a"], True),  # git log's order, no clock gone back
        (["m", "x", "c", "b", "a"], True),
        (["m", "c", "a", "x", "b"], False),  # a clock that went back: a shown before x and b
        (["a", "b", "c", "x", "m"], False),  # every parent first
    ],
)
def test_each_commit_comes_before_its_parents(shown: list[str], kept: bool) -> None:
    order = children_first(shown, PARENTS)

    assert order is not None
    assert sorted(order) == sorted(shown)
    assert precedes_its_parents(order, PARENTS)
    assert (order is shown) is kept


@pytest.mark.parametrize(
    "shown",
    [
        ["m", "c", "b", "a"],  # x, a parent of m, was not read
        ["m", "c", "x", "b", "a", "c"],  # c read twice
    ],
)
def test_a_read_that_lost_or_repeated_a_commit_has_no_order(shown: list[str]) -> None:
    parents = {sha: PARENTS[sha] for sha in shown}

    assert children_first(shown, parents) is None


def test_records_cut_across_pieces_of_output_arrive_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History(tmp_path / "repo")
    history.commit("feat: héllo wörld 日本語", "body\nwith lines\n\nBREAKING CHANGE: ü")
    history.commit("fix: ")
    history.commit("")
    history.commit("chore: last")
    whole = read(history.root, "log", "-z", HISTORY_FORMAT).decode().split("\0")[:-1]
    monkeypatch.setattr(processes, "PIECE", 3)  # a piece ends inside a record, inside a character
    records: list[str] = []

    read_records(history.root, records.extend, "log", "-z", HISTORY_FORMAT, end="\0")

    assert records == whole
    assert len(records) == 4


def test_a_history_split_by_date_reads_as_the_whole_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    for minor in range(1, 6):
        history.switch(f"topic-{minor}", "main")
        history.commit(f"feat: topic {minor}")
        history.switch("main")
        history.commit(f"fix: on main {minor}")
        history.merge(f"topic-{minor}")
        history.tag(f"1.{minor}.0")
    tips = [r.commit for r in release_tags(history.root).values()]
    tips.append(tip_commit(history.root, "HEAD"))
    whole = read_part(history.root, tips)
    bounds: list[tuple[str, ...]] = []

    def spied(root: Path, tips: list[str], *bound: str) -> HistoryPart:
        bounds.append(bound)
        return read_part(root, tips, *bound)

    monkeypatch.setattr(release.history, "read_part", spied)

    graph, commits = read_history(history.root, tips)

    assert sorted(b[0].split("=")[0] for b in bounds) == ["--since", "--until"]  # no whole read

    assert graph.parents == whole.parents
    assert graph.dates == whole.dates
    assert commits == whole.commits
    assert len(commits) == 11  # the merges left out
    assert graph.order == whole.shown  # the dates never go back: git's order kept
