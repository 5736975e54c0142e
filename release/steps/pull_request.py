"""release-via = "pull-request": a protected release branch takes the release commit only by a
reviewed pull request. The commit is made on release/vX, proposed by a pull request titled like
the commit, and found on the release branch by content once a reviewer merged it (a merge
keeps its id; a squash or a rebase makes a new commit). Until then the run stops, successfully,
waiting for the merge; the same command continues after it.

Under release-via = "push" (the default) and for hotfixes these stages do not apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from release.errors import ReleaseError
from release.git import GitError
from release.notes import from_range, groups_of, markdown
from release.plan import Plan, notes_range
from release.release_commit import merged_release_commit
from release.steps import PULL_REQUEST, RELEASE_BRANCH, Need, Say, State, Status, Step, checks

if TYPE_CHECKING:
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
    with client(plan) as github:
        return github.pull_requests(plan.commit_branch, plan.release_branch)


def tagged(plan: Plan) -> bool:
    return plan.repo.tag_target(plan.tag) is not None or plan.revision is not None


def token_problems(plan: Plan) -> list[str]:
    from release.github import TOKEN_VARIABLES, token_from_environment

    if token_from_environment() is None:
        return [
            f"no GitHub token to open and follow the release pull request: export "
            f"{' or '.join(TOKEN_VARIABLES)} (contents and pull-requests: write on "
            f"{plan.config.github_repository})"
        ]
    return []


def closed_unmerged(plan: Plan, pulls: list[PullRequestSimple]) -> list[str]:
    """A reviewer closed this release commit's pull request without merging it: one line, and
    how to go on (reopen it, or drop the release branch and propose the release again)."""
    if not pulls or any(p.state == "open" or p.merged_at is not None for p in pulls):
        return []
    newest = pulls[0]
    local = plan.repo.rev(f"refs/heads/{plan.commit_branch}")
    if local is not None and local != newest.head.sha:
        return []  # a new release commit since: its own pull request is still to be opened
    branch = plan.commit_branch
    return [
        f"pull request #{newest.number} ({newest.html_url}) was closed without merging: "
        f"reopen and merge it, then run {plan.rerun} again; or drop this release "
        f"(git switch {plan.release_branch}; git branch -D {branch}; git push {plan.remote} "
        f"--delete {branch}) and run {plan.rerun} again"
    ]


class StartReleaseBranch(Step):
    name = "release-branch"
    trusts_tag = True
    title = "create release/vX from the release branch, for the release commit"
    makes = frozenset({RELEASE_BRANCH})

    def state(self, plan: Plan) -> Status:
        if not plan.via_pull_request:
            return Status.skip(PUSH_SETTING if plan.flow == "release" else "a hotfix")
        if plan.repo.rev(f"refs/heads/{plan.commit_branch}") is not None:
            return Status.done(f"{plan.commit_branch} exists")
        if tagged(plan):
            return Status.done(f"{plan.tag} exists")
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


class OpenPullRequest(Step):
    name = "pull-request"
    trusts_tag = True
    title = "push release/vX and open its pull request into the release branch"
    makes = frozenset({PULL_REQUEST})

    def state(self, plan: Plan) -> Status:
        if not plan.via_pull_request:
            return Status.skip(PUSH_SETTING if plan.flow == "release" else "a hotfix")
        if tagged(plan):
            return Status.done(f"{plan.tag} exists")
        for pull in proposals(plan):
            if pull.state == "open":
                return Status.done(f"#{pull.number} open: {pull.html_url}")
            if pull.merged_at is not None:
                return Status.done(f"#{pull.number} merged")
        return Status.todo()

    def check(self, plan: Plan) -> list[str]:
        if not plan.via_pull_request or tagged(plan):
            return []
        missing = token_problems(plan)
        if missing:
            return missing
        return closed_unmerged(plan, proposals(plan))

    def describe(self, plan: Plan) -> list[str]:
        branch = plan.commit_branch
        return [
            f"git push {plan.remote} refs/heads/{branch}",
            f"open a pull request from {branch} into {plan.release_branch} titled "
            f"{plan.commit_message!r}, the release notes as its body",
        ]

    def run(self, plan: Plan, say: Say) -> None:
        repo = plan.repo
        branch = plan.commit_branch
        tip = repo.rev(f"refs/heads/{branch}")
        if tip is None:
            raise ReleaseError(f"branch {branch} is missing", f"run {plan.rerun} again")
        try:
            repo.call("push", "--porcelain", "--", plan.remote, f"{tip}:refs/heads/{branch}")
        except GitError as error:
            raise ReleaseError(
                f"{plan.remote} refused the push of {branch} ({error.reason}); no pull request "
                "was opened",
                f"fix what {plan.remote} says, then run {plan.rerun} again",
            ) from None
        notes = from_range(notes_range(plan, tip), groups_of(plan.config))
        with client(plan, say) as github:
            pull = github.open_pull_request(
                branch,
                plan.release_branch,
                plan.commit_message.splitlines()[0],
                markdown(notes, plan.config.source_url),
            )
        say(f"  pull request #{pull.number}: {pull.html_url}")


class MergedPullRequest(Step):
    """The reviewer's merge, whichever way it was made, and the release commit it put on the
    release branch: what the tag marks."""

    name = "merged"
    trusts_tag = True
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

    def state(self, plan: Plan) -> Status:
        if not plan.via_pull_request:
            return Status.skip(PUSH_SETTING if plan.flow == "release" else "a hotfix")
        if tagged(plan):
            return Status.done(f"{plan.tag} exists")
        found = merged_release_commit(plan)
        if found is not None:
            return Status.done(f"the release commit {found[:12]} is on {plan.release_branch}")
        pulls = proposals(plan)
        for pull in pulls:
            if pull.merged_at is not None:
                return Status.todo(
                    f"#{pull.number} merged; {plan.remote}/{plan.release_branch} to fetch"
                )
            if pull.state == "open":
                return Status.waiting(
                    f"pull request #{pull.number}",
                    f"{pull.html_url}: once it is merged, run {plan.rerun} again",
                )
        return Status.todo()

    def describe(self, plan: Plan) -> list[str]:
        return [
            "wait for the pull request to be merged (the run stops there; the same command "
            "continues after the merge)",
            f"git fetch {plan.remote} {plan.release_branch}, and tag the release commit found "
            "there",
        ]

    def run(self, plan: Plan, say: Say) -> None:
        branch = plan.release_branch
        try:
            plan.repo.call("fetch", "--quiet", "--", plan.remote, f"refs/heads/{branch}")
        except GitError as error:
            raise ReleaseError(
                f"git fetch {plan.remote} {branch} failed ({error.reason})",
                f"check that {plan.remote} is reachable, then run {plan.rerun} again",
            ) from None
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
