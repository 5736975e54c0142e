"""Releases through a pull request, on a bare origin whose main is protected as GitHub
protects it, with the GitHub stand-in merging the pull request into that origin.

With release-via = "pull-request", `invoke release` makes the release commit on release/vX,
opens the pull request and stops, successfully, waiting for it; after a reviewer merges it
(merge commit, squash or rebase) the same command finds the release commit on main by content,
tags it and pushes the tag. Develop is protected too: the release merged back into it is
proposed from merge/vX-into-develop by a second pull request, waited for the same way. Under
the default release-via = "push", a protected main is named with that setting, and nothing
changes.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.github_pulls import MERGE_PUSH, protect
from devstack.github_standin import GitHubStandIn
from release.checklist import Finding, develop_check
from release.github import client_for
from release.plan import ReleaseOptions, make_plan
from tests.github_support import REPOSITORY
from tests.gitrepos import Project, git, make_project, refused
from tests.halfdone import run_interrupted
from tests.test_hotfix_flow import setup as hotfix_setup

pytestmark = [pytest.mark.repo, pytest.mark.github]

VIA_PULL_REQUEST = """\
github-repository = "{repository}"
github-api-url = "{api}"
release-via = "pull-request"
"""


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    """The stand-in, merging pull requests into tmp_path/origin.git (made by `project`)."""
    token = "ghp_" + secrets.token_hex(18)
    monkeypatch.setenv("GITHUB_TOKEN", token)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    (tmp_path / "origin.git").mkdir()  # make_project makes the bare repository in it
    with GitHubStandIn(REPOSITORY, token, origin=tmp_path / "origin.git") as running:
        yield running
    assert running.mismatches == [], "requests or responses off GitHub's description"


def released_project(tmp_path: Path, config: str) -> Project:
    """main at 1.0.0 (released, tagged), one feature since; main and develop protected from
    then on."""
    project = make_project(tmp_path, version="1.0.0", config=config)
    project.git("tag", "-a", "-m", "Barycenter v1.0.0", "v1.0.0")
    project.push("v1.0.0")
    project.commit("feat: add device code flow (#45)")
    project.push("main")
    protect(project.origin, "main", "develop")
    return project


@pytest.fixture
def project(tmp_path: Path, standin: GitHubStandIn) -> Project:
    config = VIA_PULL_REQUEST.format(repository=REPOSITORY, api=standin.api_url)
    return released_project(tmp_path, config)


def test_an_unknown_release_via_is_refused_and_the_named_fix_releases(
    tmp_path: Path, standin: GitHubStandIn
) -> None:
    typo = VIA_PULL_REQUEST.replace('"pull-request"', '"pull_request"')
    project = released_project(tmp_path, typo.format(repository=REPOSITORY, api=standin.api_url))
    pyproject = project.work / "pyproject.toml"

    lines = refused(project, "release", "--version", "1.1.0", "--ci")

    assert lines == [
        f"error: release-via = 'pull_request' in [tool.barycenter.release] of {pyproject} is "
        'unknown: write release-via = "push" or release-via = "pull-request" there'
    ]
    assert standin.pulls == {}
    # The fix, as the line words it (through a pull request of its own: main is protected).
    pyproject.write_text(pyproject.read_text().replace('"pull_request"', '"pull-request"'))
    project.git("switch", "-q", "-c", "fix-release-via")
    project.git("commit", "-q", "-am", "build: release through pull requests")
    project.push("fix-release-via")
    with client_for(REPOSITORY, standin.api_url, 10) as github:
        fix = github.open_pull_request("fix-release-via", "main", "build: via pull requests", "")
    standin.merge_pull(fix.number, "merge")
    project.git("switch", "-q", "main")
    project.git("pull", "-q", "--ff-only", "origin", "main")

    out = propose(project)

    assert out.splitlines()[-1] == "waiting for pull request #2"
    assert standin.pulls[2].title == "chore(release): v1.1.0"


def test_the_origin_refuses_pushes_to_main_with_github_s_words(project: Project) -> None:
    project.commit("fix: straight to main")
    refusal = subprocess.run(
        ["git", "push", "origin", "main"], cwd=project.work, capture_output=True, text=True
    )
    assert refusal.returncode != 0
    assert (
        "remote: error: GH006: Protected branch update failed for refs/heads/main."
        in refusal.stderr
    )
    assert "(pre-receive hook declined)" in refusal.stderr
    # Other branches are not protected.
    project.git("push", "-q", "origin", "main:refs/heads/topic")


def propose(project: Project) -> str:
    """invoke release --version 1.1.0 --ci (the maintainer's part: the tag's workflow builds)
    up to the wait; its stdout."""
    proposed = project.invoke("release", "--version", "1.1.0", "--ci")
    assert proposed.returncode == 0, proposed.stdout + proposed.stderr
    return proposed.stdout


def test_release_opens_the_pull_request_and_waits_for_it(
    project: Project, standin: GitHubStandIn
) -> None:
    main_before = git(project.origin, "rev-parse", "main")

    out = propose(project)

    lines = out.splitlines()
    assert lines[-1] == "waiting for pull request #1"
    assert f"  pull request #1: {standin.base}/{REPOSITORY}/pull/1" in lines
    pull = standin.pulls[1]
    assert (pull.title, pull.head, pull.base) == (
        "chore(release): v1.1.0", "release/v1.1.0", "main")  # fmt: skip
    assert pull.body is not None and "feat: add device code flow" in pull.body
    # The release commit is on release/v1.1.0, here and on the origin; main and tags untouched.
    head = git(project.origin, "rev-parse", "release/v1.1.0")
    assert project.git("rev-parse", "release/v1.1.0") == head
    assert git(project.origin, "log", "-1", "--format=%s", head) == "chore(release): v1.1.0"
    assert git(project.origin, "rev-parse", "main") == main_before
    assert git(project.origin, "tag", "-l") == "v1.0.0"
    assert project.git("tag", "-l") == "v1.0.0"
    assert "build" not in out  # it stopped at the wait, before any tagged stage

    # Rerunning before the merge changes nothing and says what it waits for.
    before = project.state()
    again = project.invoke("release", "--version", "1.1.0", "--ci")
    assert again.returncode == 0, again.stderr
    assert project.state() == before
    assert again.stdout.splitlines()[-1] == "waiting for pull request #1"
    assert "= pull-request: already done (#1 open: " in again.stdout
    assert len(standin.pulls) == 1

    status = project.invoke("release.status", "--version", "1.1.0", "--format", "json")
    assert status.returncode == 0, status.stderr
    rows = {row["step"]: row for row in json.loads(status.stdout)["steps"]}
    assert (rows["merged"]["state"], rows["merged"]["detail"]) == (
        "waiting",
        f"pull request #1 ({standin.base}/{REPOSITORY}/pull/1: once it is merged, run invoke "
        "release --version 1.1.0 again)",
    )
    assert rows["pull-request"]["state"] == "done" and rows["tag"]["state"] == "to do"


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_after_the_merge_the_release_commit_on_main_is_tagged(
    project: Project, standin: GitHubStandIn, method: str
) -> None:
    develop_before = git(project.origin, "rev-parse", "develop")
    propose(project)
    proposed = git(project.origin, "rev-parse", "release/v1.1.0")
    standin.merge_pull(1, method)
    main = git(project.origin, "rev-parse", "main")

    tagged = project.invoke("release", "--version", "1.1.0", "--ci")

    assert tagged.returncode == 0, tagged.stdout + tagged.stderr
    commit = git(project.origin, "rev-parse", "v1.1.0^{commit}")
    # The tag marks the release commit as it is on main: its own id after a merge commit, the
    # squashed or rebased commit otherwise; in every case a commit of main holding 1.1.0.
    assert git(project.origin, "merge-base", "--is-ancestor", commit, "main") == ""
    assert (commit == proposed) == (method == "merge")
    assert (commit == main) == (method != "merge")
    assert 'version = "1.1.0"' in git(project.origin, "show", f"{commit}:Cargo.toml")
    assert git(project.origin, "cat-file", "-t", "v1.1.0") == "tag"
    notes = git(project.origin, "tag", "-l", "--format=%(contents)", "v1.1.0")
    assert "feat: add device code flow" in notes
    assert git(project.origin, "rev-parse", "main") == main  # main moved only by the merge
    assert "= merged: already done" not in tagged.stdout
    assert "- merged: find the merged pull request's release commit" in tagged.stdout
    # Develop is protected: the release merged into it is proposed, and the run waits again.
    assert tagged.stdout.splitlines()[-1] == "waiting for pull request #2", tagged.stdout
    assert "~ push-develop: does not apply (develop takes the release by a pull request)" in (
        tagged.stdout
    )
    pull = standin.pulls[2]
    assert (pull.title, pull.base) == ("chore(release): merge v1.1.0 into develop", "develop")
    assert pull.head == "merge/v1.1.0-into-develop"
    merge_branch = git(project.origin, "rev-parse", "merge/v1.1.0-into-develop")
    assert git(project.origin, "rev-parse", f"{merge_branch}^1") == develop_before
    assert git(project.origin, "rev-parse", f"{merge_branch}^2") == commit
    assert git(project.origin, "rev-parse", "develop") == develop_before
    assert project.git("branch", "--show-current") == "main"

    # Rerunning before that merge changes nothing and says what it waits for.
    before = project.state()
    again = project.invoke("release", "--version", "1.1.0", "--ci")
    assert again.returncode == 0, again.stderr
    assert project.state() == before and len(standin.pulls) == 2
    assert again.stdout.splitlines()[-1] == "waiting for pull request #2"
    assert "= develop-pull-request: already done (#2 open: " in again.stdout

    standin.merge_pull(2, method)
    standin.add_workflow_run("release.yml", commit, head_branch="v1.1.0")

    done = project.invoke("release", "--version", "1.1.0", "--ci")

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].endswith(" succeeded"), done.stdout
    assert "  develop-merged: done in" in done.stdout
    develop = git(project.origin, "rev-parse", "develop")
    # Develop holds the release: the tag's commit in its history after a merge commit, its
    # content (the CHANGELOG section, the version) after a squash or a rebase.
    if method == "merge":
        git(project.origin, "merge-base", "--is-ancestor", commit, develop)  # fails otherwise
    assert "## [1.1.0]" in git(project.origin, "show", f"{develop}:CHANGELOG.md")
    assert 'version = "1.1.0"' in git(project.origin, "show", f"{develop}:Cargo.toml")
    assert len(standin.pulls) == 2
    again = project.invoke("release.tag", "--version", "1.1.0")
    assert again.returncode == 0, again.stderr
    assert "= tag: already done" in again.stdout and "= push: already done" in again.stdout
    status = project.invoke("release.status", "--version", "1.1.0", "--format", "json")
    rows = {row["step"]: row for row in json.loads(status.stdout)["steps"]}
    assert rows["develop-merged"]["state"] == "done", rows["develop-merged"]
    # The post-release checklist reads develop as that step does, whatever the merge method.
    plan = make_plan(project.work, ReleaseOptions(version="1.1.0"), frozenset())
    assert develop_check(plan, commit) == [Finding("develop", True, "origin/develop holds v1.1.0")]


def test_a_pull_request_closed_without_merging_is_named_with_the_fix(
    project: Project, standin: GitHubStandIn
) -> None:
    propose(project)
    standin.pulls[1].state = "closed"  # a reviewer closes it on GitHub

    lines = refused(project, "release", "--version", "1.1.0", "--ci")

    url = f"{standin.base}/{REPOSITORY}/pull/1"
    assert lines == [
        f"error: pull request #1 ({url}) was closed without merging: reopen and merge it, then "
        "run invoke release --version 1.1.0 again; or drop this release (git switch main; git "
        "branch -D release/v1.1.0; git push origin --delete release/v1.1.0) and run invoke "
        "release --version 1.1.0 again"
    ]


def test_after_dropping_a_closed_pull_request_s_branch_the_rerun_proposes_again(
    project: Project, standin: GitHubStandIn
) -> None:
    propose(project)
    standin.pulls[1].state = "closed"
    # The second way on the refusal names.
    project.git("switch", "-q", "main")
    project.git("branch", "-q", "-D", "release/v1.1.0")
    project.git("push", "-q", "origin", "--delete", "release/v1.1.0")

    out = propose(project)

    assert out.splitlines()[-1] == "waiting for pull request #2"
    assert standin.pulls[2].head == "release/v1.1.0" and standin.pulls[2].state == "open"


def test_prepare_and_tag_alone_name_the_release_that_proposes_and_tags(
    project: Project,
) -> None:
    assert refused(project, "release.prepare", "--version", "1.1.0") == [
        'error: with release-via = "pull-request" the release commit is made on release/v1.1.0 '
        "and proposed by a pull request: run invoke release --version 1.1.0"
    ]
    assert refused(project, "release.tag", "--version", "1.1.0") == [
        'error: the release commit of 1.1.0 is not on origin/main (release-via = "pull-request")'
        ": run invoke release --version 1.1.0, which proposes it by a pull request and tags it "
        "once merged"
    ]


def test_the_dry_run_shows_the_proposal_and_the_wait(
    project: Project, standin: GitHubStandIn
) -> None:
    before = project.state()
    dry = project.invoke("release", "--version", "1.1.0", "--ci", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert project.state() == before and standin.pulls == {}
    assert "would git branch release/v1.1.0 main" in dry.stdout
    assert "would git push origin refs/heads/release/v1.1.0" in dry.stdout
    assert "would open a pull request from release/v1.1.0 into main titled " in dry.stdout
    assert "would wait for the pull request to be merged" in dry.stdout
    assert "would git push origin refs/tags/v1.1.0" in dry.stdout
    assert "would git switch -c merge/v1.1.0-into-develop origin/develop" in dry.stdout
    assert (
        "would open a pull request from merge/v1.1.0-into-develop into develop titled "
        "'chore(release): merge v1.1.0 into develop'" in dry.stdout
    )
    assert "would wait for the pull request into develop to be merged" in dry.stdout


@pytest.fixture
def pushed_project(tmp_path: Path) -> Project:
    return released_project(tmp_path, "")


def test_a_protected_main_under_release_via_push_names_the_setting(
    pushed_project: Project,
) -> None:
    project = pushed_project
    before = project.state()
    prepared = project.invoke("release.prepare", "--version", "1.1.0")
    assert prepared.returncode == 0, prepared.stderr

    pushed = project.invoke("release.tag", "--version", "1.1.0")

    assert pushed.returncode == 1, pushed.stdout
    assert pushed.stderr.strip().splitlines() == [
        "error: origin refuses pushes to main, a protected branch (GH006): nothing was pushed, "
        'and the release commit here was undone: set release-via = "pull-request" in '
        "[tool.barycenter.release] to release through a pull request, then run invoke release "
        "--version 1.1.0 again"
    ]
    # Nothing on the remote, and the clone as it was before the release.
    assert project.state() == before


# Ctrl-C at each boundary of the steps a release through a pull request adds (before the
# merge: the proposal; after it: finding the merged commit), then the same command again.
PROPOSING = ["- release-branch:", "- prepare:", "- pull-request:", "  pull-request: done in"]
AFTER_THE_MERGE = [
    "- merged:",
    "  merged: done in",
    "- tag:",
    "- push:",
    "- merge-develop:",
    "- develop-pull-request:",
    "  develop-pull-request: done in",
]
# …and after the merge into develop: fetching it.
AFTER_THE_DEVELOP_MERGE = ["- develop-merged:", "  develop-merged: done in"]


@pytest.mark.parametrize("line", PROPOSING + AFTER_THE_MERGE + AFTER_THE_DEVELOP_MERGE)
def test_interrupted_then_rerun_converges(
    project: Project, standin: GitHubStandIn, line: str
) -> None:
    command = ("release", "--version", "1.1.0", "--ci")
    if line not in PROPOSING:
        propose(project)
        standin.merge_pull(1, "squash")
        standin.add_workflow_run(
            "release.yml", git(project.origin, "rev-parse", "main"), head_branch="v1.1.0"
        )
    if line in AFTER_THE_DEVELOP_MERGE:
        waiting = project.invoke(*command)
        assert waiting.stdout.splitlines()[-1] == "waiting for pull request #2", waiting.stdout
        standin.merge_pull(2, "squash")
    stopped = run_interrupted(project, *command, on_line=line)
    assert stopped.returncode in (0, 130), stopped.stdout + stopped.stderr
    assert all(x.startswith("error: ") for x in stopped.stderr.strip().splitlines())

    rerun = project.invoke(*command)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    if line in PROPOSING:
        assert len(standin.pulls) == 1  # never a second release pull request
        assert rerun.stdout.splitlines()[-1] == "waiting for pull request #1"
        assert standin.pulls[1].head_sha == project.git("rev-parse", "release/v1.1.0")
        return
    assert project.git("branch", "--show-current") == "main"  # back from the merge branch
    main = git(project.origin, "rev-parse", "main")
    assert git(project.origin, "rev-parse", "v1.1.0^{commit}") == main
    assert len(standin.pulls) == 2  # one into main, one into develop
    assert standin.pulls[2].head_sha == project.git("rev-parse", "merge/v1.1.0-into-develop")
    if line in AFTER_THE_MERGE:
        assert rerun.stdout.splitlines()[-1] == "waiting for pull request #2"
    else:
        assert rerun.stdout.splitlines()[-1].endswith(" succeeded")
        develop = git(project.origin, "rev-parse", "develop")
        assert "## [1.1.0]" in git(project.origin, "show", f"{develop}:CHANGELOG.md")


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_a_hotfix_reaches_protected_main_and_develop_by_pull_requests(
    tmp_path: Path, standin: GitHubStandIn, method: str
) -> None:
    project = hotfix_setup(tmp_path)  # v1.2.0 released; develop at 1.3.0-dev.0
    overrides = tmp_path / "via-pull-request.toml"
    overrides.write_text(VIA_PULL_REQUEST.format(repository=REPOSITORY, api=standin.api_url))
    env = {"BARYCENTER_RELEASE_CONFIG": str(overrides)}
    protect(project.origin, "main", "develop")
    main_before = git(project.origin, "rev-parse", "main")
    develop_before = git(project.origin, "rev-parse", "develop")
    started = project.invoke("hotfix", "1.2.1", env=env)
    assert started.returncode == 0, started.stderr
    project.commit("fix: refuse reused authorization codes (#43)", "src/auth.txt", "auth v2\n")
    finish = ("hotfix.finish", "--version", "1.2.1")

    before = project.state()
    dry = project.invoke(*finish, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert project.state() == before and standin.pulls == {}
    assert "would open a pull request from hotfix/1.2.1 into main titled " in dry.stdout
    assert "~ merge-main: does not apply (hotfix/1.2.1 reaches main by its pull request)" in (
        dry.stdout
    )

    proposed = project.invoke(*finish, env=env)

    assert proposed.returncode == 0, proposed.stdout + proposed.stderr
    assert proposed.stdout.splitlines()[-1] == "waiting for pull request #1", proposed.stdout
    pull = standin.pulls[1]
    assert (pull.title, pull.head, pull.base) == ("chore(release): v1.2.1", "hotfix/1.2.1", "main")
    assert pull.body is not None and "refuse reused authorization codes" in pull.body
    assert git(project.origin, "rev-parse", "main") == main_before
    assert git(project.origin, "tag", "-l", "v1.2.1") == ""
    # A rerun before the merge changes nothing.
    before = project.state()
    again = project.invoke(*finish, env=env)
    assert again.returncode == 0 and project.state() == before, again.stdout + again.stderr
    assert again.stdout.splitlines()[-1] == "waiting for pull request #1"

    standin.merge_pull(1, method)
    tagged = project.invoke(*finish, env=env)

    assert tagged.returncode == 0, tagged.stdout + tagged.stderr
    assert tagged.stdout.splitlines()[-1] == "waiting for pull request #2", tagged.stdout
    commit = git(project.origin, "rev-parse", "v1.2.1^{commit}")
    git(project.origin, "merge-base", "--is-ancestor", commit, "main")  # fails otherwise
    assert 'version = "1.2.1"' in git(project.origin, "show", f"{commit}:Cargo.toml")
    assert "auth v2" in git(project.origin, "show", f"{commit}:src/auth.txt")
    assert standin.pulls[2].head == "merge/v1.2.1-into-develop"
    assert git(project.origin, "rev-parse", "develop") == develop_before

    # The merge into develop resolved the version files in develop's favour: GitHub cannot
    # replay (rebase) that merge's commits onto develop, so a reviewer merges or squashes it.
    standin.merge_pull(2, "merge" if method == "rebase" else method)
    finished = project.invoke(*finish, env=env)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "  develop-merged: done in" in finished.stdout
    develop = git(project.origin, "rev-parse", "develop")
    assert "## [1.2.1]" in git(project.origin, "show", f"{develop}:CHANGELOG.md")
    assert 'version = "1.3.0-dev.0"' in git(project.origin, "show", f"{develop}:Cargo.toml")
    assert "auth v2" in git(project.origin, "show", f"{develop}:src/auth.txt")
    assert git(project.origin, "branch", "--list", "hotfix/*") == "", finished.stdout
    assert len(standin.pulls) == 2


def test_a_merge_method_outside_a_rehearsal_of_pull_requests_is_refused_before_anything(
    tmp_path: Path, standin: GitHubStandIn
) -> None:
    """--merge-method is the rehearsal's reviewer's: a real release is merged on GitHub. Each
    refusal is one line, before the stack or a sandbox is touched; the fixes it names work."""
    through_pulls = make_project(
        tmp_path,
        version="1.0.0",
        config=VIA_PULL_REQUEST.format(repository=REPOSITORY, api=standin.api_url),
    )
    (tmp_path / "pushing").mkdir()
    pushing = make_project(tmp_path / "pushing", version="1.0.0")
    sandbox = tmp_path / "sandbox"
    env = {"BARYCENTER_REHEARSAL_DIR": str(sandbox)}
    for project, args, line in [
        (
            through_pulls,
            ["release", "--version", "1.1.0", "--merge-method", "squash", "--allow-empty"],
            "error: --merge-method applies only with --rehearsal (on GitHub the reviewer "
            "merges): leave --merge-method out, or add --rehearsal",
        ),
        (
            through_pulls,
            ["release", "--rehearsal", "--merge-method", "fast-forward"],
            "error: --merge-method 'fast-forward' is not one of GitHub's merge methods: pass "
            "--merge-method merge, squash or rebase",
        ),
        (
            pushing,
            ["release", "--rehearsal", "--merge-method", "squash"],
            "error: --merge-method applies where the checkout's committed pyproject.toml says "
            'release-via = "pull-request": leave --merge-method out, or set release-via there '
            "and commit it",
        ),
    ]:
        before = project.state()
        result = project.invoke(*args, env=env)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stderr.strip().splitlines() == [line], args
        assert project.state() == before and not sandbox.exists(), args
    assert standin.pulls == {}

    # Left out, the release proposes its pull request (a reviewer merges it on GitHub).
    proposed = through_pulls.invoke("release", "--version", "1.1.0", "--allow-empty", "--ci")
    assert proposed.returncode == 0, proposed.stdout + proposed.stderr
    assert proposed.stdout.splitlines()[-1] == "waiting for pull request #1"


@pytest.mark.parametrize("method", ["squash", "rebase"])
def test_a_hotfix_after_a_release_squashed_or_rebased_into_develop_reaches_develop_at_its_version(
    project: Project, standin: GitHubStandIn, method: str
) -> None:
    """Squashed or rebased into main and develop, 1.1.0's content is on develop without its
    commits: the hotfix's merge into develop conflicts in the version files, which then keep
    develop's own changes and take 1.1.1 (develop is not past it)."""
    propose(project)
    standin.merge_pull(1, method)
    release_commit = git(project.origin, "rev-parse", "main")  # made anew by the merge
    standin.add_workflow_run("release.yml", release_commit, head_branch="v1.1.0")  # for --ci
    assert propose(project).splitlines()[-1] == "waiting for pull request #2"
    standin.merge_pull(2, "squash")  # a merge branch's merge commit does not rebase
    assert propose(project).splitlines()[-1].endswith(" succeeded")
    # develop's own change to Cargo.toml, merged there (a reviewer's merge passes protection).
    project.git("fetch", "-q", "origin", "develop")
    project.git("switch", "-q", "-c", "on-develop", "origin/develop")
    manifest = project.work / "Cargo.toml"
    manifest.write_text(manifest.read_text() + "\n[features]\ndevelop-only = []\n")
    project.git("commit", "-q", "-am", "feat: a feature flag on develop")
    subprocess.run(
        ["git", "push", "-q", "origin", "on-develop:develop"],
        cwd=project.work, check=True, env={**os.environ, **MERGE_PUSH},
    )  # fmt: skip
    project.git("switch", "-q", "main")
    project.git("pull", "-q", "--ff-only", "origin", "main")

    started = project.invoke("hotfix", "1.1.1")
    assert started.returncode == 0, started.stdout + started.stderr
    project.commit("fix: refuse reused authorization codes (#43)", "src/auth.txt", "auth v2\n")
    finish = ("hotfix.finish", "--version", "1.1.1")
    assert project.invoke(*finish).stdout.splitlines()[-1] == "waiting for pull request #3"
    standin.merge_pull(3, method)
    tagged = project.invoke(*finish)
    assert tagged.stdout.splitlines()[-1] == "waiting for pull request #4", (
        tagged.stdout + tagged.stderr
    )
    standin.merge_pull(4, "merge")
    finished = project.invoke(*finish)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "  develop-merged: done in" in finished.stdout
    develop = git(project.origin, "rev-parse", "develop")
    manifest_there = git(project.origin, "show", f"{develop}:Cargo.toml")
    assert 'version = "1.1.1"' in manifest_there and "develop-only = []" in manifest_there
    assert 'version = "1.1.1"' in git(project.origin, "show", f"{develop}:Cargo.lock")
    changelog = git(project.origin, "show", f"{develop}:CHANGELOG.md")
    assert changelog.index("## [1.1.1]") < changelog.index("## [1.1.0]")
    assert "refuse reused authorization codes" in changelog
