"""How the full history is read: one record per commit, parsed as git writes it, split in two
by date where that loses nothing, and put in an order where each commit precedes its parents."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

import pytest

import release.history
from release import processes
from release.errors import ReleaseError
from release.git import read, read_records
from release.history import (
    HISTORY,
    HISTORY_FIELDS,
    HistoryPart,
    Range,
    children_first,
    read_full_history,
    read_history,
    read_part,
    release_range,
    release_tags,
    tip_commit,
)
from tests.gitrepos import git
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
    history.commit("chore: last", "a long body " * 50)
    whole = read(history.root, *HISTORY, "HEAD").decode().split("\0")[:-1]
    monkeypatch.setattr(processes, "PIECE", 3)  # a piece ends inside a field, inside a character
    records: list[tuple[str, ...]] = []

    read_records(history.root, records.extend, HISTORY_FIELDS, *HISTORY, "HEAD")

    assert [field for record in records for field in record] == whole
    assert len(records) == 4
    assert [record[2] for record in records] == [
        "chore: last",
        "",
        "fix:",
        "feat: héllo wörld 日本語",
    ]


def full_history_agrees_with_each_range(root: Path) -> list[Range]:
    ranges = read_full_history(root, release_tags(root), "HEAD")
    for found in ranges:
        single = release_range(root, found.release.version if found.release else None)
        assert found.commits == single.commits
        assert found.previous == single.previous
    return ranges


def test_any_byte_but_nul_in_a_message_stays_in_its_field(tmp_path: Path) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    history.tag("0.1.0")
    history.commit("feat: a \x1e record \x1f unit separator", "body \x1e\x1f too")
    history.tag("0.2.0")
    history.commit("fix: unreleased \x1e here")

    ranges = full_history_agrees_with_each_range(history.root)

    subjects = [[c.subject for c in found.commits] for found in ranges]
    assert subjects == [
        ["fix: unreleased \x1e here"],
        ["feat: a \x1e record \x1f unit separator"],
        ["chore: initial commit"],
    ]


def git_in(root: Path, text: str, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=root, input=text, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def raw_commit(root: Path, lines: list[str], message: str) -> str:
    """A commit object written as given (git commit would refuse or normalize its header)."""
    text = "\n".join([f"tree {git_in(root, '', 'mktree')}", *lines, "", message, ""])
    return git_in(root, text, "hash-object", "-t", "commit", "-w", "--literally", "--stdin")


WHO = "A U Thor <a@example.org>"


@pytest.mark.parametrize(
    "committer",
    [
        [f"committer {WHO} +1700000060 +0000"],  # git log's %ct prints nothing for it
        # git's walk orders by the first; git log's %ct would print the second
        [f"committer {WHO} 1700000060 +0000", f"committer {WHO} 1600000000 +0000"],
    ],
)
def test_commits_are_ordered_by_the_date_git_walks_by(tmp_path: Path, committer: list[str]) -> None:
    """Committer lines that git fsck accepts but git log's formatter reads otherwise."""
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))

    def commit(parents: list[str], date: int, subject: str, lines: list[str] | None = None) -> str:
        stamp = f"{WHO} {date} +0000"
        header = [f"parent {p}" for p in parents] + [f"author {stamp}"]
        return raw_commit(root, header + (lines or [f"committer {stamp}"]), subject)

    first = commit([], 1700000000, "feat: a")
    older = commit([first], 1700000050, "fix: p1")
    newer = commit([first], 1700000060, "fix: p2", committer)
    merge = commit([older, newer], 1700000100, "Merge p1 and p2")
    git(root, "update-ref", "refs/heads/main", merge)
    git(root, "tag", "v0.1.0", first)
    git(root, "tag", "v0.2.0", merge)

    ranges = full_history_agrees_with_each_range(root)

    assert [[c.subject for c in found.commits] for found in ranges] == [
        [],
        ["fix: p2", "fix: p1"],
        ["feat: a"],
    ]
    assert git(root, "fsck").strip() == ""


def test_a_replacement_that_makes_a_cycle_is_refused_and_the_named_fix_works(
    tmp_path: Path,
) -> None:
    history = History(tmp_path / "repo")
    first = history.commit("chore: initial commit")
    history.tag("0.1.0")
    history.commit("feat: a")
    last = history.commit("fix: b")
    history.tag("0.2.0")
    git(history.root, "replace", "--graft", first, last)  # the root now descends from the tip

    with pytest.raises(ReleaseError) as refused:
        read_full_history(history.root, release_tags(history.root), "HEAD")

    assert str(refused.value) == (
        "the history has a cycle: a replacement (git replace, .git/info/grafts) makes a commit "
        "its own ancestor: list them with git replace -l and delete the one that loops: "
        "git replace -d SHA"
    )
    git(history.root, "replace", "-d", first)
    full_history_agrees_with_each_range(history.root)


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

    def spied(
        root: Path, tips: list[str], *bound: str, stop: threading.Event | None = None
    ) -> HistoryPart:
        bounds.append(bound)
        return read_part(root, tips, *bound, stop=stop)

    monkeypatch.setattr(release.history, "read_part", spied)

    graph, commits = read_history(history.root, tips)

    assert sorted(b[0].split("=")[0] if b else "whole" for b in bounds) == ["--since", "--until"]

    assert graph.parents == whole.parents
    assert graph.dates == whole.dates
    assert commits == whole.commits
    assert len(commits) == 11  # the merges left out
    assert graph.order == whole.shown  # the dates never go back: git's order kept


def test_signed_commits_read_alike_when_git_log_is_told_to_show_signatures(
    tmp_path: Path,
) -> None:
    """log.showSignature makes git log print the check of each signature among the commits."""
    history = History(tmp_path / "repo")
    key = tmp_path / "signing"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"release-tester@example.org {(tmp_path / 'signing.pub').read_text()}")
    for key_name, value in [
        ("gpg.format", "ssh"),
        ("user.signingkey", str(key)),
        ("gpg.ssh.allowedSignersFile", str(allowed)),
        ("commit.gpgSign", "true"),
        ("log.showSignature", "true"),
    ]:
        git(history.root, "config", key_name, value)
    history.commit("chore: initial commit")
    history.tag("0.1.0")
    history.commit("feat: signed")
    assert "Good" in git(history.root, "log", "-1")  # git log does show them

    ranges = full_history_agrees_with_each_range(history.root)

    assert [[c.subject for c in found.commits] for found in ranges] == [
        ["feat: signed"],
        ["chore: initial commit"],
    ]


def test_a_read_told_to_stop_ends_with_its_git(tmp_path: Path) -> None:
    history = History(tmp_path / "repo")
    history.commit("chore: initial commit")
    stop = threading.Event()
    stop.set()

    with pytest.raises(ReleaseError, match="reading the history was stopped"):
        read_part(history.root, [tip_commit(history.root, "HEAD")], stop=stop)


def split_history(root: Path) -> list[str]:
    history = History(root)
    for minor in range(1, 5):
        history.commit(f"feat: {minor}")
        history.tag(f"1.{minor}.0")
    return [r.commit for r in release_tags(root).values()]


@pytest.mark.parametrize("failing", ["--since", "--until"])
def test_when_one_half_of_a_split_read_fails_the_other_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """Its error is what the user reads, not the other half's 'stopped'."""
    tips = split_history(tmp_path / "repo")
    told: dict[str, bool] = {}

    def half(
        root: Path, tips: list[str], *bound: str, stop: threading.Event | None = None
    ) -> HistoryPart:
        assert stop is not None
        which = bound[0].split("=")[0]
        if which == failing:
            raise ReleaseError(f"git rev-list {which} failed", "see git's words")
        told[which] = stop.wait(timeout=30)  # a read going on until it is told to stop
        raise ReleaseError("reading the history was stopped", "run the same command again")

    monkeypatch.setattr(release.history, "read_part", half)

    with pytest.raises(ReleaseError, match=f"git rev-list {failing} failed"):
        read_history(tmp_path / "repo", tips)

    assert told == {({"--since", "--until"} - {failing}).pop(): True}


def test_ctrl_c_while_waiting_for_the_other_half_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our half read, the other still reading: Ctrl-C then stops it too, rather than letting it
    read its whole half before the run can end."""
    tips = split_history(tmp_path / "repo")
    told: dict[str, bool] = {}
    read_for_real = release.history.read_part

    def half(
        root: Path, tips: list[str], *bound: str, stop: threading.Event | None = None
    ) -> HistoryPart:
        assert stop is not None
        if bound[0].startswith("--since"):
            return read_for_real(root, tips, *bound, stop=stop)
        told["--until"] = stop.wait(timeout=30)  # a long read, until it is told to stop
        raise ReleaseError("reading the history was stopped", "run the same command again")

    monkeypatch.setattr(release.history, "read_part", half)
    ctrl_c = threading.Timer(
        0.5, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)
    )
    ctrl_c.start()

    with pytest.raises(KeyboardInterrupt):
        read_history(tmp_path / "repo", tips)

    assert told == {"--until": True}
