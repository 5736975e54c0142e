"""release-via = "pull-request": a protected release branch takes the release commit only by a
reviewed pull request. The commit is made on release/vX, proposed by a pull request titled like
the commit, and found on the release branch by content once a reviewer merged it (a merge
keeps its id; a squash or a rebase makes a new commit). Until then the run stops, successfully,
waiting for the merge; the same command continues after it.

Under release-via = "push" (the default) these stages do not apply. A hotfix's release commit,
made on hotfix/X, is proposed the same way (its pull request replaces merge-main's merge); a
hotfix tagged on its own branch never reaches main, and proposes nothing.

Develop is protected too: the release merged back into it (made on merge/vX-into-develop by the
merge-develop stage) is proposed by its own pull request, and the run waits for that merge the
same way; develop holds the release once its history has the tag's commit (a merge commit) or
its CHANGELOG.md has X's section (a squash or a rebase).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from release.errors import ReleaseError
from release.git import GitError
from release.merging import develop_holds_release
from release.notes import from_range, groups_of, markdown
from release.plan import Plan, notes_range
from release.release_commit import merged_release_commit
from release.steps import (
    DEVELOP_PULL_REQUEST,
    PULL_REQUEST,
    RELEASE_BRANCH,
    Need,
    Say,
    State,
    Status,
    Step,
    checks,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from release.github import GitHubClient, PullRequestSimple

PUSH_SETTING = 'release-via = "push"'


def client(plan: Plan, say: Say | None = None) -> GitHubClient:
    # githubkit loads here, when a step talks to GitHub.
    from release.github import client_for

    config = plan.config
    if say is None:
        return client_for(config.github_repository, config.github_api_url, config.github_max_wait)
    return client_for(config.github_repository, config.github_api_url, config.github_max_wait, say)


def proposals(plan: Plan) -> list[PullRequestSimple]:
    """The pull requests from release/vX into the release branch, newest first."""
    return pull_requests(plan, plan.commit_branch, plan.release_branch)


def pull_requests(plan: Plan, head: str, base: str) -> list[PullRequestSimple]:
    with client(plan) as github:
        return github.pull_requests(head, base)


def tagged(plan: Plan) -> bool:
    return plan.repo.tag_target(plan.tag) is not None or plan.revision is not None


def token_problems(plan: Plan) -> list[str]:
    from release.github_token import TOKEN_VARIABLES, token_from_environment

    if token_from_environment() is None:
        return [
            f"no GitHub token to open and follow the release's pull requests: export "
            f"{' or '.join(TOKEN_VARIABLES)} (contents and pull-requests: write on "
            f"{plan.config.github_repository})"
        ]
    return []


def closed_unmerged(
    plan: Plan,
    pulls: list[PullRequestSimple],
    head: str | None = None,
    base: str | None = None,
    what: str = "this release",
) -> list[str]:
    """A reviewer closed the pull request from `head` (release/vX) into `base` (the release
    branch) without merging it: one line, and how to go on (reopen it, or drop the branch and
    propose `what` again)."""
    head = head or plan.commit_branch
    base = base or plan.release_branch
    if not pulls or any(p.state == "open" or p.merged_at is not None for p in pulls):
        return []
    newest = pulls[0]
    local = plan.repo.rev(f"refs/heads/{head}")
    if local is not None and local != newest.head.sha:
        return []  # a new commit since: its own pull request is still to be opened
    if local is None and head not in plan.repo.remote_state(plan.remote).heads:
        return []  # the branch dropped, as the fix says: the run proposes it anew
    return [
        f"pull request #{newest.number} ({newest.html_url}) was closed without merging: "
        f"reopen and merge it, then run {plan.rerun} again"
        + (
            ""
            if head == plan.hotfix_branch  # the fix itself lives there: never to be dropped
            else f"; or drop {what} (git switch {plan.release_branch}; git branch -D {head}; "
            f"git push {plan.remote} --delete {head}) and run {plan.rerun} again"
        )
    ]


class OfReleasePullRequest(Step):
    """A stage of the release commit's way through a pull request: it does not apply where
    the release commit is pushed (or to a hotfix tagged on its own branch), and is done once
    vX exists."""

    def state(self, plan: Plan) -> Status:
        if not plan.via_pull_request:
            if plan.config.release_via == "push":
                return Status.skip(PUSH_SETTING)
            return Status.skip("the tag goes on the hotfix branch, which never reaches main")
        if tagged(plan):
            return Status.done(f"{plan.tag} exists")
        return self.proposal_state(plan)

    def proposal_state(self, plan: Plan) -> Status:
        raise NotImplementedError


class OfDevelopPullRequest(Step):
    """A stage of the release's way back into a protected develop through a pull request: it
    does not apply where develop takes it by a push, or there is no develop; it is done once
    the remote's develop holds the release."""

    def state(self, plan: Plan) -> Status:
        branch = plan.develop_merge_branch
        if branch is None:
            if plan.develop_branch is None:
                return Status.skip(f"there is no {plan.config.develop_branch} branch")
            return Status.skip(PUSH_SETTING)
        develop = plan.develop_branch
        assert develop is not None  # noqa: S101 - develop_merge_branch is None otherwise
        if develop_holds_release(plan):
            return Status.done(f"{plan.remote}/{develop} holds {plan.tag}")
        return self.proposal_state(plan, branch, develop)

    def proposal_state(self, plan: Plan, branch: str, develop: str) -> Status:
        raise NotImplementedError

    def pending(self, plan: Plan) -> bool:
        """The merge into develop is still to be proposed or made: what the checks ask of."""
        return plan.develop_merge_branch is not None and not develop_holds_release(plan)

    def problems_with(
        self, plan: Plan, of_pulls: Callable[[list[PullRequestSimple], str, str], list[str]]
    ) -> list[str]:
        """What `of_pulls` finds in the pull requests of merge/vX-into-develop into develop,
        asked only while the merge is pending, and once the token lets GitHub be asked."""
        if not self.pending(plan):
            return []
        missing = token_problems(plan)
        if missing:
            return missing
        branch, develop = plan.develop_merge_branch, plan.develop_branch
        assert branch is not None and develop is not None  # noqa: S101 - pending says so
        return of_pulls(pull_requests(plan, branch, develop), branch, develop)


class StartReleaseBranch(OfReleasePullRequest):
    name = "release-branch"
    title = "create release/vX from the release branch, for the release commit"
    makes = frozenset({RELEASE_BRANCH})

    def state(self, plan: Plan) -> Status:
        if plan.flow == "hotfix":
            return Status.skip(f"a hotfix: its release commit is made on {plan.commit_branch}")
        return super().state(plan)

    def proposal_state(self, plan: Plan) -> Status:
        if plan.repo.rev(f"refs/heads/{plan.commit_branch}") is not None:
            return Status.done(f"{plan.commit_branch} exists")
        if merged_release_commit(plan) is not None:
            return Status.done(f"the release commit is on {plan.release_branch}")
        return Status.todo()

    def check(self, plan: Plan) -> list[str]:
        if plan.stray_tag is not None or self.state(plan).state is not State.TODO:
            return []
        branch = plan.commit_branch
        problems = checks.on_branch(plan.repo, plan.release_branch)
        if branch in plan.repo.remote_state(plan.remote).heads:
            problems.append(
                f"{plan.remote}/{branch} exists but not here (proposed from another clone?): "
                f"git fetch {plan.remote} {branch}:{branch} to continue that proposal"
            )
        return problems

    def describe(self, plan: Plan) -> list[str]:
        return [f"git branch {plan.commit_branch} {plan.release_branch}"]

    def run(self, plan: Plan, say: Say) -> None:
        base = f"refs/heads/{plan.release_branch}"
        plan.repo.call("branch", "--", plan.commit_branch, base)


class OpenPullRequest(OfReleasePullRequest):
    name = "pull-request"
    title = "push release/vX and open its pull request into the release branch"
    makes = frozenset({PULL_REQUEST})

    def proposal_state(self, plan: Plan) -> Status:
        return opened_state(proposals(plan))

    def check(self, plan: Plan) -> list[str]:
        if not plan.via_pull_request or tagged(plan):
            return []
        missing = token_problems(plan)
        if missing:
            return missing
        return closed_unmerged(plan, proposals(plan))

    def describe(self, plan: Plan) -> list[str]:
        title = plan.commit_message.splitlines()[0]
        return proposal(
            plan,
            plan.commit_branch,
            plan.release_branch,
            f"{title!r}, the release notes as its body",
        )

    def run(self, plan: Plan, say: Say) -> None:
        branch = plan.commit_branch
        tip = push_branch(plan, branch)
        notes = from_range(notes_range(plan, tip), groups_of(plan.config))
        with client(plan, say) as github:
            pull = github.open_pull_request(
                branch,
                plan.release_branch,
                plan.commit_message.splitlines()[0],
                markdown(notes, plan.config.source_url),
            )
        say(f"  pull request #{pull.number}: {pull.html_url}")


class MergedPullRequest(OfReleasePullRequest):
    """The reviewer's merge, whichever way it was made, and the release commit it put on the
    release branch: what the tag marks."""

    name = "merged"
    title = "find the merged pull request's release commit on the release branch"

    def needs(self) -> tuple[Need, ...]:
        return (Need(PULL_REQUEST, self.proposal_problems),)

    def proposal_problems(self, plan: Plan) -> list[str]:
        """Without this run's pull-request stage: one must have been opened already."""
        if not plan.via_pull_request or tagged(plan) or merged_release_commit(plan):
            return []
        missing = token_problems(plan)
        if missing:
            return missing
        if not proposals(plan):
            return [
                f"no pull request proposes {plan.tag} ({plan.commit_branch} into "
                f"{plan.release_branch}): run {plan.rerun} to open it"
            ]
        return []

    def check(self, plan: Plan) -> list[str]:
        if not plan.via_pull_request or tagged(plan) or merged_release_commit(plan):
            return []
        if token_problems(plan):
            return []  # said once, by the need above or by the pull-request stage
        return closed_unmerged(plan, proposals(plan))

    def proposal_state(self, plan: Plan) -> Status:
        found = merged_release_commit(plan)
        if found is not None:
            return Status.done(f"the release commit {found[:12]} is on {plan.release_branch}")
        return wait_state(plan, proposals(plan), plan.release_branch)

    def describe(self, plan: Plan) -> list[str]:
        return [
            "wait for the pull request to be merged (the run stops there; the same command "
            "continues after the merge)",
            f"git fetch {plan.remote} {plan.release_branch}, and tag the release commit found "
            "there",
        ]

    def run(self, plan: Plan, say: Say) -> None:
        branch = plan.release_branch
        fetch_branch(plan, branch)
        if merged_release_commit(plan) is None:
            merged = next((p for p in proposals(plan) if p.merged_at is not None), None)
            which = f"pull request #{merged.number}" if merged else "the pull request"
            raise ReleaseError(
                f"{which} was merged, but {plan.remote}/{branch} holds no release commit of "
                f"{plan.version} (subject {plan.commit_message!r}, Cargo.toml at "
                f"{plan.version}, its CHANGELOG section)",
                f"see what the merge put on {branch}; propose the release again from a new "
                f"{plan.commit_branch}",
            )


class OpenDevelopPullRequest(OfDevelopPullRequest):
    name = "develop-pull-request"
    title = "push merge/vX-into-develop and open its pull request into develop"
    makes = frozenset({DEVELOP_PULL_REQUEST})

    def proposal_state(self, plan: Plan, branch: str, develop: str) -> Status:
        return opened_state(pull_requests(plan, branch, develop))

    def check(self, plan: Plan) -> list[str]:
        return self.problems_with(
            plan,
            lambda pulls, branch, develop: closed_unmerged(
                plan, pulls, branch, develop, f"this merge into {develop}"
            ),
        )

    def describe(self, plan: Plan) -> list[str]:
        branch, develop = plan.develop_merge_branch, plan.develop_branch
        return proposal(plan, str(branch), str(develop), repr(develop_title(plan)))

    def run(self, plan: Plan, say: Say) -> None:
        branch, develop = plan.develop_merge_branch, plan.develop_branch
        assert branch is not None and develop is not None  # noqa: S101 - state() skips otherwise
        push_branch(plan, branch)
        body = (
            f"Brings {plan.tag} (its release commit and CHANGELOG section) back into "
            f"{develop}, whose branch protection takes it only by a pull request."
        )
        with client(plan, say) as github:
            pull = github.open_pull_request(branch, develop, develop_title(plan), body)
        say(f"  pull request #{pull.number}: {pull.html_url}")


def opened_state(pulls: list[PullRequestSimple]) -> Status:
    """A pull request is opened once one of the branch's is open or merged."""
    for pull in pulls:
        if pull.state == "open":
            return Status.done(f"#{pull.number} open: {pull.html_url}")
        if pull.merged_at is not None:
            return Status.done(f"#{pull.number} merged")
    return Status.todo()


def wait_state(plan: Plan, pulls: list[PullRequestSimple], base: str) -> Status:
    """Whether the run waits for one of `pulls` into `base` or goes on (one merged)."""
    for pull in pulls:
        if pull.merged_at is not None:
            return Status.todo(f"#{pull.number} merged; {plan.remote}/{base} to fetch")
        if pull.state == "open":
            return Status.waiting(
                f"pull request #{pull.number}",
                f"{pull.html_url}: once it is merged, run {plan.rerun} again",
            )
    return Status.todo()


def proposal(plan: Plan, branch: str, base: str, titled: str) -> list[str]:
    """What proposing `branch` for `base` does, as a dry run says it."""
    return [
        f"git push {plan.remote} refs/heads/{branch}",
        f"open a pull request from {branch} into {base} titled {titled}",
    ]


def push_branch(plan: Plan, branch: str) -> str:
    """Push the local `branch` a pull request is opened from; its tip."""
    tip = plan.repo.rev(f"refs/heads/{branch}")
    if tip is None:
        raise ReleaseError(f"branch {branch} is missing", f"run {plan.rerun} again")
    try:
        plan.repo.call("push", "--porcelain", "--", plan.remote, f"{tip}:refs/heads/{branch}")
    except GitError as error:
        raise ReleaseError(
            f"{plan.remote} refused the push of {branch} ({error.reason}); no pull request "
            "was opened",
            f"fix what {plan.remote} says, then run {plan.rerun} again",
        ) from None
    return tip


def fetch_branch(plan: Plan, branch: str) -> None:
    """Fetch the remote's `branch`, which a merged pull request has just moved."""
    try:
        plan.repo.call("fetch", "--quiet", "--", plan.remote, f"refs/heads/{branch}")
    except GitError as error:
        raise ReleaseError(
            f"git fetch {plan.remote} {branch} failed ({error.reason})",
            f"check that {plan.remote} is reachable, then run {plan.rerun} again",
        ) from None


def develop_title(plan: Plan) -> str:
    return f"chore(release): merge {plan.tag} into {plan.develop_branch}"


class MergedDevelopPullRequest(OfDevelopPullRequest):
    """The reviewer's merge into develop, whichever way it was made: the run waits for it,
    then fetches develop and sees the release there."""

    name = "develop-merged"
    title = "fetch develop once its pull request is merged"

    def needs(self) -> tuple[Need, ...]:
        return (Need(DEVELOP_PULL_REQUEST, self.proposal_problems),)

    def proposal_problems(self, plan: Plan) -> list[str]:
        """Without this run's develop-pull-request stage: one must have been opened already."""
        return self.problems_with(
            plan,
            lambda pulls, branch, develop: (
                []
                if pulls
                else [
                    f"no pull request merges {plan.tag} into {develop} ({branch}): run "
                    f"{plan.rerun} to open it"
                ]
            ),
        )

    def proposal_state(self, plan: Plan, branch: str, develop: str) -> Status:
        return wait_state(plan, pull_requests(plan, branch, develop), develop)

    def describe(self, plan: Plan) -> list[str]:
        return [
            f"wait for the pull request into {plan.develop_branch} to be merged (the run "
            "stops there; the same command continues after the merge)",
            f"git fetch {plan.remote} {plan.develop_branch}",
        ]

    def run(self, plan: Plan, say: Say) -> None:
        develop = plan.develop_branch
        if develop is None:  # no develop: state() skips this step
            return
        fetch_branch(plan, develop)
        if not develop_holds_release(plan):
            raise ReleaseError(
                f"the pull request into {develop} was merged, but {plan.remote}/{develop} "
                f"holds neither {plan.tag}'s commit nor its CHANGELOG section",
                f"see what the merge put on {develop}; merge {plan.tag} into it by a new pull "
                "request",
            )
