"""Each change's pull request and author, asked of the GitHub stand-in in batches: pull
requests opened and merged on it for real (squash and merge commits), logins matched from
commit emails, co-authors and bots; a rate limit is waited out within github-max-wait."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from devstack.github_standin import GitHubStandIn
from release.credits import BATCH, Credit, new_contributors, read_credits
from release.errors import ReleaseError
from release.github import GitHubClient, RetryPolicy
from tests.github_support import FAST, REPOSITORY, git
from tests.github_support import config as release_config

pytestmark = pytest.mark.github

PEOPLE = {
    "alice@example.com": ("Alice", "alice"),
    "bob@example.com": ("Bob", "bob"),
    "carol@example.com": ("Carol", "carol"),
    "49699333+dependabot[bot]@users.noreply.github.com": ("dependabot[bot]", "dependabot[bot]"),
    "dave@example.com": ("Dave", "dave"),
    "29139614+renovate[bot]@users.noreply.github.com": ("renovate[bot]", "renovate[bot]"),
    "41898282+github-actions[bot]@users.noreply.github.com": (
        "github-actions[bot]",
        "github-actions[bot]",
    ),
    "robot@example.com": ("Release Robot", "release-robot"),
}


def commit(work: Path, email: str, message: str) -> str:
    name = PEOPLE[email][0]
    with (work / "CHANGES").open("a") as changes:
        changes.write(message + "\n")
    git(work, "add", "CHANGES")
    git(work, "-c", f"user.name={name}", "-c", f"user.email={email}", "commit", "-qm", message)
    return git(work, "rev-parse", "HEAD")


# Each world's way to open and merge one more pull request, by its working tree.
world_pull: dict[Path, Any] = {}


@pytest.fixture
def world(tmp_path: Path) -> Any:
    """Alice released v1.0.0; then bob's pull request (squashed), carol's co-authored commit
    in a merged pull request, and a dependabot pull request."""
    work, origin = tmp_path / "work", tmp_path / "origin.git"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    commit(work, "alice@example.com", "feat: first")
    git(work, "tag", "v1.0.0")
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(origin)], check=True)
    git(work, "remote", "add", "origin", str(origin))
    standin = GitHubStandIn(REPOSITORY, "t0ken", origin=origin).start()
    standin.users = {email: login for email, (_, login) in PEOPLE.items()}
    client = GitHubClient(REPOSITORY, standin.api_url, "t0ken", lambda line: None, FAST)

    def pull(branch: str, email: str, message: str, method: str, author: str) -> int:
        git(work, "checkout", "-q", "-b", branch, "main")
        commit(work, email, message)
        git(work, "push", "-q", "origin", branch)
        git(work, "checkout", "-q", "main")
        with standin.lock:
            answer = standin.pulls_create(
                {}, {}, {"title": message, "head": branch, "base": "main"}
            )
            number = int(answer.document["number"])
            standin.pulls[number].author = author
        standin.merge_pull(number, method)
        git(work, "pull", "-q", "origin", "main")
        return number

    numbers = {
        "bob": pull("device-flow", "bob@example.com", "feat: device flow", "squash", "bob"),
        "carol": pull("fix-expiry", "alice@example.com",
                      "fix: refresh expiry\n\nCo-authored-by: Carol <carol@example.com>",
                      "merge", "alice"),
        "bot": pull("deps", "49699333+dependabot[bot]@users.noreply.github.com",
                    "build(deps): bump serde", "squash", "dependabot[bot]"),
    }  # fmt: skip
    shas = git(work, "rev-list", "--reverse", "--topo-order", "v1.0.0..main").split()
    world_pull[work] = pull
    yield standin, client, shas, numbers, work
    standin.stop()
    assert standin.mismatches == []


def test_every_change_gets_its_pull_request_and_author_in_one_call(world: Any) -> None:
    standin, client, shas, numbers, work = world
    with client:
        credits, calls = read_credits(client, shas)
    assert calls == 1 == standin.counts["graphql"]
    by_subject = {git(work, "log", "-1", "--format=%s", sha): credits[sha] for sha in shas}
    assert by_subject["feat: device flow (#1)"] == Credit(
        numbers["bob"], "bob", (), (("bob@example.com", "bob"),)
    )
    assert by_subject["fix: refresh expiry"] == Credit(
        numbers["carol"],
        "alice",
        ("carol",),
        (("alice@example.com", "alice"), ("carol@example.com", "carol")),
    )
    assert by_subject["Merge pull request #2 from barycenter-oidc/fix-expiry"].pull_request == 2
    assert by_subject["build(deps): bump serde (#3)"].login == "dependabot[bot]"
    earlier = set(git(work, "log", "--format=%ae", "v1.0.0").split())
    assert new_contributors(shas, earlier, credits) == [("bob", 1), ("carol", 2)]
    # Cached answers make no call.
    with client:
        again, calls = read_credits(client, shas, credits)
    assert (again, calls) == (credits, 0)


def test_calls_are_one_per_batch(world: Any) -> None:
    _, client, shas, _, _ = world
    many = (shas * (BATCH // len(shas) + 2))[: BATCH + 3]
    distinct = list(dict.fromkeys(many))
    with client:
        _, calls = read_credits(client, distinct + [f"{i:040x}" for i in range(BATCH)])
    assert calls == 2


def test_a_rate_limit_is_waited_out_then_past_the_budget_refused(world: Any) -> None:
    standin, client, shas, _, _ = world
    said: list[str] = []
    client.say = said.append
    standin.rate_limit("graphql", call=1, retry_after=1)
    with client:
        credits, calls = read_credits(client, shas)
    assert len(credits) == len(shas) and calls == 1
    assert any("GitHub rate limit" in line and "waiting 1.0 s" in line for line in said), said
    standin.clear_faults()
    standin.rate_limit("graphql", call=None, retry_after=30)
    client.retry = RetryPolicy(attempts=5, first_pause=0.01, max_wait=5.0)
    with client, pytest.raises(ReleaseError) as refused:
        read_credits(client, shas)
    assert "past the 5 s allowed (github-max-wait)" in str(refused.value)


GOLDEN = Path(__file__).parent / "golden" / "notes-with-people.md"


def test_notes_credit_people_as_github_s_generated_notes_do(world: Any) -> None:
    """Offline the notes are as before; with GitHub's answers each change names its pull
    request and authors (bots never), and new contributors are welcomed (golden file; commit
    ids, which change each run, are replaced by their subjects' slots)."""
    from release.config import ReleaseConfig
    from release.notes import People, markdown, notes_for

    _, client, shas, _, work = world
    git(work, "tag", "v1.1.0")
    config = ReleaseConfig(root=work, source_url="https://github.com/barycenter-oidc/barycenter")
    notes = notes_for(work, "1.1.0", config)
    with client:
        credits, _ = read_credits(client, shas)
    earlier = set(git(work, "log", "--format=%ae", "v1.0.0").split())
    people = People(credits, new_contributors(shas, earlier, credits))
    offline = markdown(notes, config.source_url)
    credited = markdown(notes, config.source_url, people)
    assert "@" not in offline
    assert markdown(notes, config.source_url, People({})) == offline
    for number, sha in enumerate(shas):
        credited = credited.replace(sha, f"<commit {number}>").replace(sha[:7], f"<{number}>")
    assert credited == GOLDEN.read_text()


def test_people_are_asked_once_then_read_from_the_cache(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from release.credits import cache_file, people_for
    from release.notes import notes_for

    standin, _, _, _, work = world
    git(work, "tag", "v1.1.0")
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    config = release_config(work, standin.api_url, credit_people_in=("notes",))
    notes = notes_for(work, "1.1.0", config)
    said: list[str] = []
    people = people_for(work, notes, config, "notes", said.append)
    assert people is not None and said == []
    assert people.new_contributors == [("bob", 1), ("carol", 2)]
    assert standin.counts["graphql"] == 1 and cache_file(work).exists()
    again = people_for(work, notes, config, "notes", said.append)
    assert again is not None and again.by_sha == people.by_sha
    assert standin.counts["graphql"] == 1  # the rerun made no call
    # Not asked where the configuration says no, nor without a token: what git tells only,
    # the pull request that merged fix-expiry's commit, and nobody's login.
    fix = git(work, "log", "-1", "--no-merges", "--format=%H", "--grep=^fix: refresh expiry")
    offline = {fix: Credit(2, None)}
    unasked = people_for(work, notes, release_config(work, standin.api_url), "notes", said.append)
    assert unasked is not None and (unasked.by_sha, unasked.new_contributors) == (offline, ())
    monkeypatch.delenv("GITHUB_TOKEN")
    without_token = people_for(work, notes, config, "notes", said.append)
    assert without_token is not None and without_token.by_sha == offline
    assert said == [] and standin.counts["graphql"] == 1


def test_past_the_budget_or_without_an_answer_the_notes_name_nobody_in_one_line(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from release.credits import people_for
    from release.notes import notes_for

    standin, _, _, _, work = world
    git(work, "tag", "v1.1.0")
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    said: list[str] = []
    config = release_config(work, standin.api_url, credit_people_in=("notes",), credit_calls=0)
    notes = notes_for(work, "1.1.0", config)
    fix = git(work, "log", "-1", "--no-merges", "--format=%H", "--grep=^fix: refresh expiry")
    offline = {fix: Credit(2, None)}  # what git alone tells
    fallen_back = people_for(work, notes, config, "notes", said.append)
    assert fallen_back is not None and (fallen_back.by_sha, fallen_back.new_contributors) == (
        offline,
        (),
    )
    assert said == [
        "notes: 3 changes need 1 GitHub calls, past credit-calls = 0: the notes name no logins"
    ]
    said.clear()
    standin.server_error("graphql", call=None, status=502)
    config = release_config(work, standin.api_url, credit_people_in=("notes",))
    fallen_back = people_for(work, notes, config, "notes", said.append)
    assert fallen_back is not None and fallen_back.by_sha == offline
    assert said[-1].startswith("notes: GitHub did not say who made the changes (GitHub failed")
    assert said[-1].endswith(": the notes name no logins")
    assert "t0ken" not in "\n".join(said)


BASE = "https://github.com/barycenter-oidc/barycenter"


def slots(text: str, work: Path) -> str:
    """Commit ids, which change each run, replaced by their subjects."""
    for sha in git(work, "rev-list", "--all").split():
        subject = git(work, "log", "-1", "--format=%s", sha)
        text = text.replace(sha, f"<{subject}>").replace(f"[{sha[:7]}]", "[id]")
    return text


def test_offline_the_tag_and_the_release_body_link_what_git_tells_and_name_nobody(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No token: the notes are as they always were; the "(#N)" subjects and the commit the
    "Merge pull request #2" commit brought link their pull requests; no login anywhere."""
    from release.steps.github import release_body
    from release.steps.tag import tag_message
    from tests.github_support import History, plan_for

    standin, _, _, _, work = world
    git(work, "tag", "-a", "-m", "v1.1.0", "v1.1.0")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    history = History.__new__(History)
    history.root, history.tags = work, {"v1.0.0", "v1.1.0"}
    everywhere = ("github", "tag", "notes", "changelog")
    plan = plan_for(
        history, "1.1.0", release_config(work, standin.api_url, credit_people_in=everywhere)
    )
    said: list[str] = []
    message = slots(tag_message(plan, git(work, "rev-parse", "v1.1.0^{commit}"), said.append), work)
    assert message == (
        "Barycenter v1.1.0\n\n## What's Changed\n\n### Features\n\n"
        f"- feat: device flow ([#1]({BASE}/pull/1)) ([id]({BASE}/commit/<feat: device flow (#1)>))"
        "\n\n### Bug Fixes\n\n"
        f"- fix: refresh expiry in [#2]({BASE}/pull/2) ([id]({BASE}/commit/<fix: refresh expiry>))"
        "\n\n### Other Changes\n\n"
        f"- build(deps): bump serde ([#3]({BASE}/pull/3)) "
        f"([id]({BASE}/commit/<build(deps): bump serde (#3)>))\n\n"
        f"**Full Changelog**: {BASE}/compare/v1.0.0...v1.1.0\n"
    )
    body = slots(release_body(plan, "sha256:" + "0" * 64, said.append), work)
    assert body.startswith(message.removeprefix("Barycenter v1.1.0\n\n").rstrip() + "\n\n## ")
    assert said == [] and standin.counts.get("graphql", 0) == 0


def test_with_a_token_the_tag_the_release_body_and_the_changelog_name_people(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each place names people where credit-people-in says so, from one GitHub call (the
    others read the cache); the CHANGELOG only on request."""
    from release.credits import people_for
    from release.notes import markdown, notes_for
    from release.release_commit import changelog_sections
    from release.steps.github import release_body
    from release.steps.tag import tag_message
    from tests.github_support import History, plan_for

    standin, _, _, _, work = world
    git(work, "tag", "-a", "-m", "v1.1.0", "v1.1.0")
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    history = History.__new__(History)
    history.root, history.tags = work, {"v1.0.0", "v1.1.0"}
    plan = plan_for(history, "1.1.0", release_config(work, standin.api_url))
    said: list[str] = []
    commit = git(work, "rev-parse", "v1.1.0^{commit}")
    read = notes_for(work, "1.1.0", plan.config)
    unasked = people_for(work, read, plan.config, "notes", said.append)  # not in the places
    notes = markdown(read, BASE, unasked)
    credited = GOLDEN.read_text()
    assert "@" not in notes and "in [#2]" in notes
    message = tag_message(plan, commit, said.append)
    assert slots(message, work) == "Barycenter v1.1.0\n\n" + slots_of_golden(credited, work)
    body = release_body(plan, "sha256:" + "0" * 64, said.append)
    assert body.startswith(message.removeprefix("Barycenter v1.1.0\n\n").rstrip() + "\n\n## ")
    assert standin.counts["graphql"] == 1 and said == []
    section = changelog_sections(plan, commit, said.append, credited=True)
    assert "@" not in section  # credit-people-in has no "changelog"
    opted_in = replace(plan, config=replace(plan.config, credit_people_in=("changelog",)))
    section = changelog_sections(opted_in, commit, said.append, credited=True)
    assert "by @bob" in section and section.endswith(
        f"### New Contributors\n\n- @bob made their first contribution in [#1]({BASE}/pull/1)\n"
        f"- @carol made their first contribution in [#2]({BASE}/pull/2)"
    )
    assert standin.counts["graphql"] == 1


def slots_of_golden(golden: str, work: Path) -> str:
    """The golden file's `<commit N>` slots (oldest first) as `slots` writes them."""
    shas = git(work, "rev-list", "--reverse", "--topo-order", "v1.0.0..v1.1.0").split()
    for number, sha in enumerate(shas):
        golden = golden.replace(f"<commit {number}>", sha).replace(f"[<{number}>]", f"[{sha[:7]}]")
    return slots(golden, work)


def test_new_contributors_across_two_releases_and_bots_never(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v1.1.0 welcomes bob and carol; v1.2.0 welcomes dave only: bob is no longer new, and
    neither GitHub Apps (renovate[bot], github-actions[bot]) nor a configured bot login
    (release-robot) is welcomed or named."""
    from release.credits import people_for
    from release.notes import markdown, notes_for

    standin, _, _, _, work = world
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    config = release_config(
        work, standin.api_url, credit_people_in=("notes",), bots=("release-robot",)
    )
    git(work, "tag", "v1.1.0")
    first = people_for(work, notes_for(work, "1.1.0", config), config, "notes", lambda _: None)
    assert first is not None and list(first.new_contributors) == [("bob", 1), ("carol", 2)]
    pull = world_pull[work]
    pull("more-device", "bob@example.com", "feat: device flow polling", "squash", "bob")
    pull("dave-first", "dave@example.com", "fix: typo in consent page", "squash", "dave")
    renovate = "29139614+renovate[bot]@users.noreply.github.com"
    pull("renovate", renovate, "build(deps): bump tokio", "squash", "renovate[bot]")
    actions = "41898282+github-actions[bot]@users.noreply.github.com"
    pull("actions", actions, "chore: update generated docs", "squash", "github-actions[bot]")
    pull("robot", "robot@example.com", "chore: sync templates", "squash", "release-robot")
    git(work, "tag", "v1.2.0")
    notes = notes_for(work, "1.2.0", config)
    second = people_for(work, notes, config, "notes", lambda _: None)
    assert second is not None and list(second.new_contributors) == [("dave", 5)]
    text = markdown(notes, BASE, second)
    assert "by @bob" in text and "by @dave" in text
    for bot in ("renovate", "github-actions", "release-robot", "dependabot"):
        assert f"@{bot}" not in text
    assert standin.counts["graphql"] == 2  # one per release: v1.1.0's answers were cached


def test_a_rate_limit_on_the_credits_is_waited_out_and_said_and_past_the_wait_given_up(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from release.credits import cache_file, people_for
    from release.notes import notes_for

    standin, _, _, _, work = world
    git(work, "tag", "v1.1.0")
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    config = release_config(work, standin.api_url, credit_people_in=("notes",), github_max_wait=2)
    notes = notes_for(work, "1.1.0", config)
    said: list[str] = []
    standin.rate_limit("graphql", call=1, retry_after=1)
    people = people_for(work, notes, config, "notes", said.append)
    assert people is not None and [login for login, _ in people.new_contributors] == [
        "bob",
        "carol",
    ]
    assert len(said) == 1 and "GitHub rate limit" in said[0] and "waiting 1.0 s" in said[0]
    assert standin.counts["graphql"] == 2  # the limited call, then its retry
    cache_file(work).unlink()
    said.clear()
    standin.clear_faults()
    standin.rate_limit("graphql", call=None, retry_after=30)
    people = people_for(work, notes, config, "notes", said.append)
    assert people is not None and people.new_contributors == ()
    assert {credit.login for credit in people.by_sha.values()} == {None}  # git's links only
    assert said[-1].startswith("notes: GitHub did not say who made the changes (")
    assert "past the 2 s allowed (github-max-wait)" in said[-1]
    assert said[-1].endswith(": the notes name no logins")
