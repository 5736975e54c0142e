"""The hotfix flow's own stages: hotfix/X from the latest release of its line; after the fix,
the merge into main, the merge back into develop and the branch's removal. The release commit,
the tag and the push are the release's own steps, planned onto the hotfix branch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

import semver

from release import cargo, changelog
from release.errors import ReleaseError
from release.git import GitError
from release.plan import Plan
from release.steps import Say, State, Status, Step, checks

VERSION_FILES = ("Cargo.toml", "Cargo.lock")


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


def merging(plan: Plan) -> bool:
    return (plan.repo.git_dir / "MERGE_HEAD").exists()


def half_made_merge(plan: Plan, theirs: str) -> bool:
    """The work tree and index hold exactly what merging `theirs` into HEAD makes, with no
    MERGE_HEAD: a merge stopped inside git's pre-merge-commit hook (Ctrl-C there kills git after
    it staged the result and before it wrote MERGE_HEAD). Ours to undo, nothing else."""
    repo = plan.repo
    if merging(plan) or not repo.uncommitted():
        return False
    try:
        if repo.output("diff", "--name-only") or repo.output(
            "ls-files", "--others", "--exclude-standard"
        ):
            return False  # changes not staged, or untracked files: not git's merge result
        staged = repo.output("write-tree")
        merged = repo.output("merge-tree", "--write-tree", "--no-messages", "HEAD", theirs)
    except GitError:
        return False  # unmerged entries, or a merge that conflicts: not a staged clean merge
    return staged == merged.splitlines()[0]


def undo_half_made_merge(plan: Plan, theirs: str) -> None:
    """Back to the branch's tip, before merging again: `git merge --abort` when MERGE_HEAD is
    there, `git reset --merge` for a merge staged without it."""
    if merging(plan):
        plan.repo.call("merge", "--abort")
    elif half_made_merge(plan, theirs):
        plan.repo.call("reset", "--merge", "--quiet")


@contextmanager
def merge_undone_on_interrupt(plan: Plan, theirs: str) -> Iterator[None]:
    """Ctrl-C inside a merge leaves MERGE_HEAD, or (inside pre-merge-commit) a staged merge
    without it, which would block the rerun: the half-made merge is undone, so the rerun merges
    again from the start. A rerun after a harder stop (SIGKILL) undoes it before merging."""
    try:
        yield
    except KeyboardInterrupt:
        with contextlib.suppress(GitError):
            undo_half_made_merge(plan, theirs)
        raise


def merge_refused(plan: Plan, error: GitError, what: str, theirs: str, into: str) -> ReleaseError:
    """A merge git refused before committing (not a conflict): its own words, undone."""
    hook = merging(plan) and plan.repo.has_hook("pre-merge-commit")
    with contextlib.suppress(GitError):
        undo_half_made_merge(plan, theirs)
    if hook:
        said = [w for w in error.hook_words if not w.startswith("Not committing merge")]
        words = "; ".join(said) or "no reason given"
        problem = f"the pre-merge-commit hook refused merging {what} into {into} ({words})"
    else:
        problem = f"git could not merge {what} into {into} ({error.reason})"
    return ReleaseError(
        problem + f"; {into} is as it was", f"fix that, then run {plan.rerun} again"
    )


def not_hotfix(plan: Plan) -> Status | None:
    return None if plan.flow == "hotfix" else Status.skip("not a hotfix")


class StartHotfix(Step):
    name = "hotfix-branch"
    trusts_tag = True
    title = "create hotfix/X from the line's latest release and check it out"

    def state(self, plan: Plan) -> Status:
        if (skipped := not_hotfix(plan)) is not None:
            return skipped
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
        problems = checks.merge_in_progress(repo) or checks.clean(repo)
        branch = hotfix_branch(plan)
        if repo.rev(f"refs/heads/{branch}") is not None:
            return problems  # only to be checked out
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
            plan.repo.call("switch", "--", branch)
            return
        plan.repo.call("switch", "-c", branch, f"refs/tags/{plan.base_tag}")


class PublishHotfixBranch(Step):
    name = "hotfix-branch-push"
    title = "publish hotfix/X"

    def state(self, plan: Plan) -> Status:
        if (skipped := not_hotfix(plan)) is not None:
            return skipped
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


class MergeIntoMain(Step):
    name = "merge-main"
    trusts_tag = True
    title = "merge the hotfix into main"

    def state(self, plan: Plan) -> Status:
        if (skipped := not_hotfix(plan)) is not None:
            return skipped
        if plan.tag_branch != plan.release_branch:
            return Status.skip(
                "the tag goes on the hotfix branch (an older line, or main carries unreleased work)"
            )
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
        problems = []
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
        repo.call("switch", "--", plan.release_branch)
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


class MergeBackIntoDevelop(Step):
    name = "merge-develop"
    trusts_tag = True
    title = "merge the release back into develop"

    def state(self, plan: Plan) -> Status:
        if plan.develop_branch is None:
            return Status.skip(f"there is no {plan.config.develop_branch} branch")
        repo = plan.repo
        develop = plan.develop_branch
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

    def check(self, plan: Plan) -> list[str]:
        if plan.develop_branch is None:
            return []
        develop = plan.develop_branch
        repo = plan.repo
        if repo.rev(f"refs/heads/{develop}") is None:
            upstream = repo.remote_state(plan.remote).heads.get(develop)
            if upstream and not repo.has_object(upstream):
                return [
                    f"{plan.remote}/{develop} is not fetched here, and the hotfix must be "
                    f"merged into it: git fetch {plan.remote} {develop}"
                ]
        return []

    def describe(self, plan: Plan) -> list[str]:
        develop = plan.develop_branch
        return [
            f"git switch {develop}",
            f"git merge --no-ff {plan.tag} (version-file conflicts resolved in {develop}'s "
            "favour when its version is higher; the CHANGELOG section inserted in version order)",
        ]

    def run(self, plan: Plan, say: Say) -> None:
        with merge_undone_on_interrupt(plan, f"refs/tags/{plan.tag}"):
            self.merge(plan)

    def merge(self, plan: Plan) -> None:
        repo = plan.repo
        develop = plan.develop_branch
        assert develop is not None  # noqa: S101 - state() skips otherwise
        if repo.current_branch() == develop and half_made_merge(plan, f"refs/tags/{plan.tag}"):
            repo.call("reset", "--merge", "--quiet")  # a run stopped inside pre-merge-commit
        tagged = repo.tag_target(plan.tag)
        if repo.current_branch() == develop and tagged and repo.is_ancestor(tagged, "HEAD"):
            repo.call("switch", "--", plan.release_branch)
            return
        if repo.rev(f"refs/heads/{develop}") is not None:
            repo.call("switch", "--", develop)
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
            repo.call("switch", "--", plan.release_branch)
            return
        except GitError as error:
            conflicted = [
                p for p in repo.output("diff", "--name-only", "--diff-filter=U").splitlines() if p
            ]
            if not conflicted:
                raise merge_refused(
                    plan, error, plan.tag, f"refs/tags/{plan.tag}", develop
                ) from None
        resolvable = (
            set(VERSION_FILES) if semver.Version.parse(develop_version) > plan.version else set()
        )
        for path in conflicted:
            if path in resolvable:
                repo.call("checkout", "--ours", "--", path)
                repo.call("add", "--", path)
            elif path == "CHANGELOG.md":
                self.merge_changelog(plan)
                repo.call("add", "--", path)
        left = [p for p in repo.output("diff", "--name-only", "--diff-filter=U").splitlines() if p]
        if left:
            raise ReleaseError(
                f"merging {plan.tag} into {develop} stopped on conflicts in {', '.join(left)}",
                f"resolve them, git add them, git commit, then run {plan.rerun} again",
            )
        repo.call("commit", "--no-edit")
        repo.call("switch", "--", plan.release_branch)

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


class PushDevelop(Step):
    name = "push-develop"
    trusts_tag = True
    title = "push develop"

    def state(self, plan: Plan) -> Status:
        if plan.develop_branch is None:
            return Status.skip(f"there is no {plan.config.develop_branch} branch")
        develop = plan.develop_branch
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


class DeleteHotfixBranch(Step):
    name = "hotfix-branch-delete"
    title = "delete hotfix/X"

    def state(self, plan: Plan) -> Status:
        if (skipped := not_hotfix(plan)) is not None:
            return skipped
        if plan.keep_branch:
            return Status.skip("--keep-branch")
        if plan.tag_branch != plan.release_branch:
            return Status.skip("the tag is on the hotfix branch, which stays as the line's home")
        branch = hotfix_branch(plan)
        here = branch in plan.repo.branches()
        there = branch in plan.repo.remote_state(plan.remote).heads
        if here or there:
            return Status.todo()
        return Status.done(f"{branch} is gone")

    def describe(self, plan: Plan) -> list[str]:
        branch = hotfix_branch(plan)
        return [
            f"git branch -D {branch}",
            f"git push {plan.remote} --delete {branch} (if published)",
        ]

    def run(self, plan: Plan, say: Say) -> None:
        repo = plan.repo
        branch = hotfix_branch(plan)
        # The remote branch first: while the local one exists, hotfix.finish still knows which
        # hotfix it finishes, so an interrupted run is finished by the same command.
        if branch in repo.remote_state(plan.remote).heads:
            repo.call("push", "--", plan.remote, f":refs/heads/{branch}")
        if repo.current_branch() == branch:
            repo.call("switch", "--", plan.release_branch)
        if branch in repo.branches():
            repo.call("branch", "-D", "--", branch)
