"""Read-only checks the preflights are made of; each returns the problems it found, with fixes."""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec

import semver

from release.errors import ReleaseError
from release.git import GitRepo, RemoteState
from release.version import release_versions, tag_name

if TYPE_CHECKING:
    from release.plan import Plan

P = ParamSpec("P")


def reading(check: Callable[P, list[str]]) -> Callable[P, list[str]]:
    """A check that reads an outside system: when the reading fails (a ReleaseError), that
    failure, with its fix, is the check's one problem."""

    @functools.wraps(check)
    def checked(*args: P.args, **kwargs: P.kwargs) -> list[str]:
        try:
            return check(*args, **kwargs)
        except ReleaseError as error:
            return [str(error)]

    return checked


def on_branch(repo: GitRepo, branch: str) -> list[str]:
    current = repo.current_branch()
    if current is None:
        return [f"HEAD is detached: git switch {branch}"]
    if current != branch:
        return [f"on branch '{current}', not '{branch}': git switch {branch}"]
    return []


def clean(repo: GitRepo) -> list[str]:
    paths = repo.uncommitted()
    if not paths:
        return []
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return [f"uncommitted or untracked files ({shown}): commit or stash them"]


def not_shallow(repo: GitRepo) -> list[str]:
    if repo.is_shallow():
        return ["the clone is shallow, so earlier releases are invisible: git fetch --unshallow"]
    return []


def identity(repo: GitRepo) -> list[str]:
    name, email = repo.identity()
    if name and email:
        return []
    return [
        "git identity is not set: "
        "git config user.name 'Your Name' && git config user.email you@example.org"
    ]


def in_sync(
    repo: GitRepo, remote: str, state: RemoteState, branch: str, release_commit: str | None
) -> list[str]:
    """The branch equals its remote; ahead only by `release_commit` (a release being resumed)."""
    local = repo.rev(f"refs/heads/{branch}")
    upstream = state.heads.get(branch)
    if local is None:
        return [f"branch '{branch}' does not exist: git switch -c {branch} {remote}/{branch}"]
    if upstream is None:
        return [
            f"'{remote}' has no branch '{branch}': push it first: git push -u {remote} {branch}"
        ]
    if local == upstream:
        return []
    if release_commit == local and repo.rev(f"{local}^") == upstream:
        return []
    if not repo.has_object(upstream) or repo.is_ancestor(local, upstream):
        return [f"'{branch}' is behind {remote}/{branch}: git pull --ff-only {remote} {branch}"]
    if repo.is_ancestor(upstream, local):
        return [
            f"'{branch}' is ahead of {remote}/{branch} with unpushed commits: "
            f"push them (git push {remote} {branch}) or drop them before releasing"
        ]
    return [f"'{branch}' and {remote}/{branch} have diverged: reconcile them (git pull --rebase)"]


def tag_free(
    repo: GitRepo, state: RemoteState, version: semver.Version, allowed_target: str | None
) -> list[str]:
    """The tag is free locally and on the remote, unless it already marks `allowed_target`."""
    tag = tag_name(version)
    problems = []
    local = repo.tag_target(tag)
    if local is not None and local != allowed_target:
        problems.append(
            f"tag {tag} already exists locally on {local[:12]}: "
            "released tags are immutable; choose the next version"
        )
    remote = state.tags.get(tag)
    if remote is not None and remote != allowed_target and local is None:
        problems.append(
            f"tag {tag} already exists on the remote: "
            "released tags are immutable; choose the next version"
        )
    return problems


def reachable_releases(repo: GitRepo, ref: str) -> list[semver.Version]:
    return release_versions(repo.tags_merged_into(ref))


def branch_ref(repo: GitRepo, branch: str) -> str:
    """The release branch's ref when it exists here, HEAD otherwise: releases are judged
    against what the release branch can reach, whatever is checked out."""
    ref = f"refs/heads/{branch}"
    return ref if repo.rev(ref) is not None else "HEAD"


def index_unlocked(repo: GitRepo) -> list[str]:
    """Git's index is free: `index.lock` makes every commit, merge and switch fail. Git removes
    it itself, even on Ctrl-C; one that is left was left by a git that was killed."""
    lock = repo.git_dir / "index.lock"
    if not lock.exists():
        return []
    return [
        f"git's index is locked ({lock} exists, left by a git that was stopped): if no git "
        f"command is running in this repository, rm {shlex.quote(str(lock))}"
    ]


def merge_in_progress(repo: GitRepo) -> list[str]:
    git_dir = repo.git_dir
    for marker, what, finish in (
        ("MERGE_HEAD", "a merge", "git merge --continue, or git merge --abort"),
        ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --continue or --abort"),
        ("REVERT_HEAD", "a revert", "git revert --continue or --abort"),
        ("rebase-merge", "a rebase", "git rebase --continue or --abort"),
        ("rebase-apply", "a rebase or am", "git rebase --continue or --abort"),
    ):
        if (git_dir / marker).exists():
            return [f"{what} is in progress: finish it ({finish}) before releasing"]
    return []


def hotfix_holds_only_its_line(plan: Plan) -> list[str]:
    """hotfix/X must hold its line's release and its fixes, not other releases' work
    (plan.hotfix_foreign): a patch that shipped it would release features as a fix."""
    if not plan.hotfix_foreign:
        return []
    branch, count = plan.hotfix_branch, len(plan.hotfix_foreign)
    develop = plan.config.develop_branch
    where = f"{plan.release_branch} or {develop}" if develop else plan.release_branch
    return [
        f"{branch} holds {count} commit(s) of {where} that are not in {plan.base_tag} "
        f"({plan.hotfix_foreign[0]}): a hotfix branch starts at {plan.base_tag} and holds only "
        f"fixes; git branch -m {branch} unreleased/{plan.version} (and git push {plan.remote} "
        f"--delete {branch} if it was pushed), then invoke hotfix {plan.version} and git "
        "cherry-pick the fixes onto it"
    ]
