"""Merges a step makes (a hotfix into main, a release back into develop): a merge stopped half
way, by Ctrl-C or a refusing hook, is recognised and undone, so the rerun merges from the start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

from release import changelog
from release.errors import ReleaseError
from release.git import GitError
from release.plan import Plan


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


def develop_holds_release(plan: Plan) -> bool:
    """The remote's develop (fetched here) holds the release: the tag's commit is in its
    history (pushed, or a pull request merged with a merge commit), or, after a squash or a
    rebase, which make new commits, its CHANGELOG.md has X's section, which develop gets only
    from the release."""
    repo = plan.repo
    develop = plan.develop_branch
    upstream = repo.remote_state(plan.remote).heads.get(develop) if develop else None
    if upstream is None or not repo.has_object(upstream):
        return False
    tagged = repo.tag_target(plan.tag)
    if tagged is not None and repo.is_ancestor(tagged, upstream):
        return True
    log = repo.file_at(upstream, "CHANGELOG.md")
    return log is not None and changelog.has_release(log, plan.version)
