"""develop: every release (a hotfix's CHANGELOG section too) merged back into develop, and
develop pushed. Both do not apply where there is no develop branch.

With release-via = "pull-request" develop is protected like main: the merge is made on
merge/vX-into-develop (from the remote's develop) instead, which a pull request proposes
(release/steps/pull_request.py); develop is then never pushed here."""

from __future__ import annotations

import semver

from release import cargo, changelog
from release.errors import ReleaseError
from release.git import GitError
from release.merging import (
    develop_holds_release,
    half_made_merge,
    merge_refused,
    merge_undone_on_interrupt,
)
from release.plan import Plan
from release.steps import Say, State, Status, Step, checks

# What a release commit bumps, kept at develop's own version when develop is ahead.
VERSION_FILES = ("Cargo.toml", "Cargo.lock")


class OnDevelop(Step):
    """A step on the develop branch: it does not apply where the repository has none."""

    def state(self, plan: Plan) -> Status:
        if plan.develop_branch is None:
            return Status.skip(f"there is no {plan.config.develop_branch} branch")
        return self.state_on(plan, plan.develop_branch)

    def state_on(self, plan: Plan, develop: str) -> Status:
        raise NotImplementedError


class MergeBackIntoDevelop(OnDevelop):
    name = "merge-develop"
    title = "merge the release back into develop"

    def state_on(self, plan: Plan, develop: str) -> Status:
        if plan.develop_merge_branch is not None:
            return self.state_through_pull_request(plan, develop, plan.develop_merge_branch)
        repo = plan.repo
        tip = repo.rev(f"refs/heads/{develop}")
        if tip is None:
            upstream = repo.remote_state(plan.remote).heads.get(develop)
            tip = upstream if upstream and repo.has_object(upstream) else None
        tagged = repo.tag_target(plan.tag)
        if tip is not None and tagged is not None and repo.is_ancestor(tagged, tip):
            # A run stopped between the merge commit and the switch back leaves us on develop.
            if repo.current_branch() == develop:
                return Status.todo(f"{develop} holds {plan.tag}; back to {plan.release_branch}")
            return Status.done(f"{develop} holds {plan.tag}")
        return Status.todo()

    @staticmethod
    def state_through_pull_request(plan: Plan, develop: str, branch: str) -> Status:
        repo = plan.repo
        tagged = repo.tag_target(plan.tag)
        tip = repo.rev(f"refs/heads/{branch}")
        if repo.current_branch() == branch and tagged and tip and repo.is_ancestor(tagged, tip):
            # A run stopped between the merge commit and the switch back.
            return Status.todo(f"{branch} holds {plan.tag}; back to {plan.release_branch}")
        if develop_holds_release(plan):
            return Status.done(f"{plan.remote}/{develop} holds {plan.tag}")
        if tagged and tip and repo.is_ancestor(tagged, tip):
            return Status.done(f"{branch} holds {plan.tag}")
        return Status.todo()

    def check(self, plan: Plan) -> list[str]:
        if plan.develop_branch is None or self.state(plan).state is not State.TODO:
            return []
        develop = plan.develop_branch
        repo = plan.repo
        problems = checks.index_unlocked(repo)
        if plan.develop_merge_branch is None and repo.rev(f"refs/heads/{develop}") is None:
            upstream = repo.remote_state(plan.remote).heads.get(develop)
            if upstream and not repo.has_object(upstream):
                problems.append(
                    f"{plan.remote}/{develop} is not fetched here, and the hotfix must be "
                    f"merged into it: git fetch {plan.remote} {develop}"
                )
        return problems

    def describe(self, plan: Plan) -> list[str]:
        develop = plan.develop_branch
        branch = plan.develop_merge_branch
        return [
            *(
                [
                    f"git fetch {plan.remote} {develop}",
                    f"git switch -c {branch} {plan.remote}/{develop}",
                ]
                if branch
                else [f"git switch {develop}"]
            ),
            f"git merge --no-ff {plan.tag} (version-file conflicts resolved with {develop}'s "
            f"files, at its version when higher, else at {plan.version}; the CHANGELOG section "
            "inserted in version order)",
        ]

    def run(self, plan: Plan, say: Say) -> None:
        with merge_undone_on_interrupt(plan, f"refs/tags/{plan.tag}"):
            self.merge(plan)

    def merge(self, plan: Plan) -> None:
        repo = plan.repo
        develop = plan.develop_branch
        assert develop is not None  # noqa: S101 - state() skips otherwise
        # The branch the merge is made on: develop, or the one its pull request proposes.
        into = plan.develop_merge_branch or develop
        if repo.current_branch() == into and half_made_merge(plan, f"refs/tags/{plan.tag}"):
            repo.call("reset", "--merge", "--quiet")  # a run stopped inside pre-merge-commit
        tagged = repo.tag_target(plan.tag)
        if repo.current_branch() == into and tagged and repo.is_ancestor(tagged, "HEAD"):
            repo.switch(plan.release_branch)
            return
        if repo.rev(f"refs/heads/{into}") is not None:
            repo.switch(into)
        elif into != develop:
            # From develop as the remote has it: the pull request merges into that.
            try:
                repo.call("fetch", "--quiet", "--", plan.remote, f"refs/heads/{develop}")
            except GitError as error:
                raise ReleaseError(
                    f"git fetch {plan.remote} {develop} failed ({error.reason})",
                    f"check that {plan.remote} is reachable, then run {plan.rerun} again",
                ) from None
            upstream = repo.remote_state(plan.remote).heads[develop]
            repo.call("switch", "--no-track", "-c", into, "--end-of-options", upstream)
        else:
            upstream = repo.remote_state(plan.remote).heads[develop]
            repo.call("switch", "--no-track", "-c", develop, "--end-of-options", upstream)
            # Tracking set by hand: a --single-branch clone's origin/develop, when it exists at
            # all, is outside the fetch refspec, and `branch --set-upstream-to` refuses it.
            repo.call("config", f"branch.{develop}.remote", plan.remote)
            repo.call("config", f"branch.{develop}.merge", f"refs/heads/{develop}")
        develop_version = cargo.crate_version(plan.root).version
        try:
            repo.call(
                "merge",
                "--no-ff",
                "-m",
                f"Merge {plan.tag} back into {develop}",
                f"refs/tags/{plan.tag}",
            )
            # Back where a release starts: a rerun (or the next release) begins on main.
            repo.switch(plan.release_branch)
            return
        except GitError as error:
            conflicted = [
                p for p in repo.output("diff", "--name-only", "--diff-filter=U").splitlines() if p
            ]
            if not conflicted:
                raise merge_refused(plan, error, plan.tag, f"refs/tags/{plan.tag}", into) from None
        versions = [path for path in conflicted if path in VERSION_FILES]
        if versions:
            # develop's own files, whose other changes (dependencies) the merge keeps. Past the
            # release (a new line, X.Y.0-dev) they keep develop's version. Not past it, they
            # conflicted because develop holds the previous release's content without its
            # commits (its pull request was squashed or rebased): they take the release's.
            for path in versions:
                repo.call("checkout", "--ours", "--", path)
            if semver.Version.parse(develop_version) <= plan.version:
                cargo.bump(plan.root, str(plan.version))
            present = [name for name in VERSION_FILES if (plan.root / name).exists()]
            repo.call("add", "--", *present)
        if "CHANGELOG.md" in conflicted:
            self.merge_changelog(plan)
            repo.call("add", "--", "CHANGELOG.md")
        left = [p for p in repo.output("diff", "--name-only", "--diff-filter=U").splitlines() if p]
        if left:
            raise ReleaseError(
                f"merging {plan.tag} into {into} stopped on conflicts in {', '.join(left)}",
                f"resolve them, git add them, git commit, then run {plan.rerun} again",
            )
        repo.call("commit", "--no-edit")
        repo.switch(plan.release_branch)

    @staticmethod
    def merge_changelog(plan: Plan) -> None:
        """develop's CHANGELOG with the hotfix's section inserted where its version belongs."""
        ours = plan.repo.output("show", ":2:CHANGELOG.md", strip=False)
        theirs = plan.repo.output("show", ":3:CHANGELOG.md", strip=False)
        section = changelog.section_body(theirs, plan.version)
        day = changelog.release_date(theirs, plan.version) or plan.today
        merged = changelog.finalize(
            ours,
            plan.version,
            day,
            plan.hotfix_base,
            plan.config.source_url,
            generated=section,
            keep_unreleased=True,
        )
        (plan.root / "CHANGELOG.md").write_text(merged)


class PushDevelop(OnDevelop):
    name = "push-develop"
    title = "push develop"

    def state_on(self, plan: Plan, develop: str) -> Status:
        if plan.develop_merge_branch is not None:
            return Status.skip(f"{develop} takes the release by a pull request")
        upstream = plan.repo.remote_state(plan.remote).heads.get(develop)
        tagged = plan.repo.tag_target(plan.tag)
        if (
            upstream
            and tagged
            and plan.repo.has_object(upstream)
            and plan.repo.is_ancestor(tagged, upstream)
        ):
            return Status.done(f"{plan.remote}/{develop} holds {plan.tag}")
        return Status.todo()

    def describe(self, plan: Plan) -> list[str]:
        return [f"git push {plan.remote} {plan.develop_branch}"]

    def run(self, plan: Plan, say: Say) -> None:
        develop = plan.develop_branch
        try:
            plan.repo.call("push", "--", plan.remote, f"refs/heads/{develop}:refs/heads/{develop}")
        except GitError as error:
            raise ReleaseError(
                f"{plan.remote} rejected the push of {develop} ({error.reason})",
                f"git switch {develop} && git pull --no-rebase {plan.remote} {develop}, then run "
                f"{plan.rerun} again",
            ) from None
