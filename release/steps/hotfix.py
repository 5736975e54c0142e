"""The hotfix flow's own stages: hotfix/X from the latest release of its line; after the fix,
the merge into main and the branch's removal. The release commit, the tag, the push and the
merge back into develop are the release's own steps, planned onto the hotfix branch.
"""

from __future__ import annotations

from release.errors import ReleaseError
from release.git import GitError
from release.merging import half_made_merge, merge_refused, merge_undone_on_interrupt
from release.plan import Plan
from release.steps import Say, State, Status, Step, checks


def infer_hotfix_version(current: str | None, branches: list[str]) -> str:
    """X from the current hotfix/X branch, or from the only hotfix branch there is."""
    if current and current.startswith("hotfix/"):
        return current.removeprefix("hotfix/")
    candidates = [b.removeprefix("hotfix/") for b in branches if b.startswith("hotfix/")]
    if len(candidates) == 1:
        return candidates[0]
    raise ReleaseError(
        "cannot tell which hotfix to finish"
        + (f" (branches: {', '.join(candidates)})" if candidates else " (no hotfix/* branch)"),
        "pass it: invoke hotfix.finish --version X.Y.Z",
    )


def hotfix_branch(plan: Plan) -> str:
    if plan.hotfix_branch is None:
        raise ReleaseError("this plan is not a hotfix's", "run invoke hotfix")
    return plan.hotfix_branch


class OfHotfix(Step):
    """A step of the hotfix flow alone: it does not apply to a release."""

    def state(self, plan: Plan) -> Status:
        if plan.flow != "hotfix":
            return Status.skip("not a hotfix")
        return self.hotfix_state(plan)

    def hotfix_state(self, plan: Plan) -> Status:
        raise NotImplementedError


class StartHotfix(OfHotfix):
    name = "hotfix-branch"
    title = "create hotfix/X from the line's latest release and check it out"

    def hotfix_state(self, plan: Plan) -> Status:
        branch = hotfix_branch(plan)
        if plan.revision is not None:
            return Status.done(f"{plan.tag} exists")
        if plan.repo.rev(f"refs/heads/{branch}") is None:
            return Status.todo()
        if plan.repo.current_branch() != branch:
            # Made, but not checked out (Ctrl-C inside git switch -c, or switched away).
            return Status.todo(f"{branch} exists but is not checked out")
        return Status.done(f"{branch} exists")

    def check(self, plan: Plan) -> list[str]:
        if self.state(plan).state is not State.TODO:
            return []
        repo = plan.repo
        problems = checks.index_unlocked(repo)
        problems += checks.merge_in_progress(repo) or checks.clean(repo)
        branch = hotfix_branch(plan)
        if repo.rev(f"refs/heads/{branch}") is not None:
            # Only to be checked out: if it is a hotfix branch at all.
            return problems + checks.hotfix_holds_only_its_line(plan)
        problems += [*checks.not_shallow(repo), *checks.identity(repo)]
        if repo.tag_target(plan.base_tag) is None:
            problems.append(f"tag {plan.base_tag} is not here: git fetch --tags {plan.remote}")
        if branch in repo.remote_state(plan.remote).heads:
            problems.append(
                f"branch {branch} already exists on {plan.remote}: "
                f"git switch --track {plan.remote}/{branch} after git fetch {plan.remote}"
            )
        return problems

    def describe(self, plan: Plan) -> list[str]:
        branch = hotfix_branch(plan)
        if plan.repo.rev(f"refs/heads/{branch}") is not None:
            return [f"git switch {branch}"]
        return [f"git switch -c {branch} {plan.base_tag}"]

    def run(self, plan: Plan, say: Say) -> None:
        branch = hotfix_branch(plan)
        if plan.repo.rev(f"refs/heads/{branch}") is not None:
            plan.repo.switch(branch)
            return
        plan.repo.call("switch", "-c", branch, f"refs/tags/{plan.base_tag}")


class PublishHotfixBranch(OfHotfix):
    name = "hotfix-branch-push"
    trusts_tag = False
    title = "publish hotfix/X"

    def hotfix_state(self, plan: Plan) -> Status:
        if not plan.push_hotfix_branch:
            return Status.skip("not asked to (--push publishes it)")
        branch = hotfix_branch(plan)
        remote = plan.repo.remote_state(plan.remote).heads.get(branch)
        if remote is not None and remote == plan.repo.rev(f"refs/heads/{branch}"):
            return Status.done(f"{branch} on {plan.remote}")
        return Status.todo()

    def describe(self, plan: Plan) -> list[str]:
        return [f"git push -u {plan.remote} {hotfix_branch(plan)}"]

    def run(self, plan: Plan, say: Say) -> None:
        branch = hotfix_branch(plan)
        try:
            plan.repo.call(
                "push", "-u", "--", plan.remote, f"refs/heads/{branch}:refs/heads/{branch}"
            )
        except GitError as error:
            raise ReleaseError(
                f"{plan.remote} refused {branch} ({error.reason}); the branch stays local",
                f"fix what {plan.remote} says, then run invoke hotfix {plan.version} --push again",
            ) from None


class MergeIntoMain(OfHotfix):
    name = "merge-main"
    title = "merge the hotfix into main"

    def hotfix_state(self, plan: Plan) -> Status:
        if plan.tag_branch != plan.release_branch:
            return Status.skip(
                "the tag goes on the hotfix branch (an older line, or main carries unreleased work)"
            )
        if plan.via_pull_request:
            return Status.skip(f"{hotfix_branch(plan)} reaches main by its pull request")
        if plan.revision is not None:
            return Status.done(f"{plan.tag} exists")
        repo = plan.repo
        branch = f"refs/heads/{hotfix_branch(plan)}"
        if repo.rev(branch) is not None and repo.is_ancestor(
            branch, f"refs/heads/{plan.release_branch}"
        ):
            return Status.done(f"{plan.release_branch} holds {hotfix_branch(plan)}")
        return Status.todo()

    def check(self, plan: Plan) -> list[str]:
        if self.state(plan).state is not State.TODO:
            return []
        repo = plan.repo
        main = plan.release_branch
        remote = repo.remote_state(plan.remote).heads.get(main)
        local = repo.rev(f"refs/heads/{main}")
        problems = checks.index_unlocked(repo)
        if (
            local
            and remote
            and remote != local
            and (not repo.has_object(remote) or not repo.is_ancestor(remote, local))
        ):
            problems.append(
                f"'{main}' is behind {plan.remote}/{main}: "
                f"git switch {main} && git pull --ff-only {plan.remote} {main}"
            )
        if main and local:
            from release.plan import unreleased_commits

            stray = unreleased_commits(repo, f"refs/heads/{main}")
            if stray:
                problems.append(
                    f"'{main}' carries {len(stray)} commit(s) in no release ({stray[0]}): a "
                    f"hotfix merges into '{main}' only when it holds released code; release or "
                    "revert them, or set hotfix-tag-on-branch = true to tag the hotfix branch"
                )
        return problems

    def describe(self, plan: Plan) -> list[str]:
        branch = hotfix_branch(plan)
        return [
            f"git switch {plan.release_branch}",
            f"git merge --no-ff {branch} -m \"Merge branch '{branch}'\"",
        ]

    def run(self, plan: Plan, say: Say) -> None:
        with merge_undone_on_interrupt(plan, f"refs/heads/{hotfix_branch(plan)}"):
            self.merge(plan)

    def merge(self, plan: Plan) -> None:
        repo = plan.repo
        branch = hotfix_branch(plan)
        theirs = f"refs/heads/{branch}"
        if repo.current_branch() == plan.release_branch and half_made_merge(plan, theirs):
            repo.call("reset", "--merge", "--quiet")  # a run stopped inside pre-merge-commit
        repo.switch(plan.release_branch)
        try:
            repo.call("merge", "--no-ff", "-m", f"Merge branch '{branch}'", theirs)
        except GitError as error:
            if not repo.output("diff", "--name-only", "--diff-filter=U"):
                raise merge_refused(plan, error, branch, theirs, plan.release_branch) from None
            repo.call("merge", "--abort")
            raise ReleaseError(
                f"merging {branch} into {plan.release_branch} conflicted and was aborted",
                f"{plan.release_branch} should hold released code only: bring it back to the "
                "latest release, then run invoke hotfix.finish again",
            ) from None


class DeleteHotfixBranch(OfHotfix):
    name = "hotfix-branch-delete"
    trusts_tag = False
    title = "delete hotfix/X"

    def hotfix_state(self, plan: Plan) -> Status:
        if plan.keep_branch:
            return Status.skip("--keep-branch")
        if plan.tag_branch != plan.release_branch:
            return Status.skip("the tag is on the hotfix branch, which stays as the line's home")
        here, there = self.where_it_is(plan)
        if here or there:
            return Status.todo()
        return Status.done(f"{hotfix_branch(plan)} is gone")

    def where_it_is(self, plan: Plan) -> tuple[bool, bool]:
        """Whether hotfix/X is a branch here, and on the remote."""
        branch = hotfix_branch(plan)
        return branch in plan.repo.branches(), branch in plan.repo.remote_state(plan.remote).heads

    def describe(self, plan: Plan) -> list[str]:
        branch = hotfix_branch(plan)
        here, there = self.where_it_is(plan)
        actions = [f"git push {plan.remote} --delete {branch}"] if there else []
        return actions + ([f"git branch -D {branch}"] if here else [])

    def run(self, plan: Plan, say: Say) -> None:
        repo = plan.repo
        branch = hotfix_branch(plan)
        here, there = self.where_it_is(plan)
        # The remote branch first: while the local one exists, hotfix.finish still knows which
        # hotfix it finishes, so an interrupted run is finished by the same command.
        if there:
            repo.call("push", "--", plan.remote, f":refs/heads/{branch}")
        if repo.current_branch() == branch:
            repo.switch(plan.release_branch)
        if here:
            repo.call("branch", "-D", "--", branch)
