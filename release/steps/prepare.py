"""prepare: bump Cargo.toml/Cargo.lock, finalize CHANGELOG.md and commit, as one transaction.

The new contents are computed from the committed files before anything is written, so every
failure is found first; a failure while writing or committing restores the files, the index and
the branch, and a run killed between the writes and the commit is recognised (the files hold
exactly the planned contents) and finished by the rerun.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import semver

from release import cargo
from release.errors import ReleaseError
from release.git import GitError
from release.plan import Plan, reachable, release_ref
from release.release_commit import (
    RELEASE_FILES,
    is_release_commit,
    merged_release_commit,
    planned_files,
)
from release.steps import RELEASE_BRANCH, RELEASE_COMMIT, Need, Say, State, Status, Step, checks
from release.version import new_version_problems, release_versions, tag_name


def superseded(plan: Plan) -> bool:
    """A release above X was made on top of X: X is an old release, not one being resumed."""
    containing = plan.repo.output("tag", "--contains", f"refs/tags/{plan.tag}")
    return any(v > plan.version for v in release_versions(containing.split()))


def worktree_holds(plan: Plan, edits: dict[str, bytes]) -> bool:
    """The uncommitted changes are exactly the planned release files: our own partial work."""
    dirty = plan.repo.uncommitted()
    if not dirty or any(path not in edits for path in dirty):
        return False
    return all((plan.root / name).read_bytes() == data for name, data in edits.items())


@checks.reading
def manifest_problems(plan: Plan) -> list[str]:
    current = cargo.crate_version(plan.root).version
    try:
        above = semver.Version.parse(current) > plan.version
    except ValueError:
        return ["Cargo.toml's version is not SemVer: write it as MAJOR.MINOR.PATCH"]
    if above:
        return [
            f"Cargo.toml is at {current}, above {plan.version}: release a version above {current}"
        ]
    return []


class Prepare(Step):
    name = "prepare"
    title = "bump Cargo.toml and Cargo.lock, finalize CHANGELOG.md, commit"
    makes = frozenset({RELEASE_COMMIT})

    def state(self, plan: Plan) -> Status:
        if plan.stray_tag is not None:
            return Status.todo(plan.stray_tag)
        if plan.repo.tag_target(plan.tag) is not None and not superseded(plan):
            return Status.done(
                f"{plan.tag} exists" + (f" on {plan.released}" if plan.released else "")
            )
        tip = f"refs/heads/{plan.commit_branch}"
        if plan.repo.rev(tip) is not None and is_release_commit(
            plan.repo, tip, plan.version, plan.commit_message
        ):
            return Status.done(f"{plan.commit_branch} ends with the release commit")
        if plan.via_pull_request and merged_release_commit(plan) is not None:
            return Status.done(f"its pull request put the release commit on {plan.release_branch}")
        return Status.todo()

    def needs(self) -> tuple[Need, ...]:
        return (Need(RELEASE_BRANCH, self.release_branch_problems),)

    def release_branch_problems(self, plan: Plan) -> list[str]:
        """Without this run's release-branch stage: through a pull request, the branch the
        release commit is made on is made by the whole release, which proposes it."""
        if (
            plan.via_pull_request
            and plan.repo.rev(f"refs/heads/{plan.commit_branch}") is None
            and self.state(plan).state is State.TODO
        ):
            return [
                f'with release-via = "pull-request" the release commit is made on '
                f"{plan.commit_branch} and proposed by a pull request: run {plan.rerun}"
            ]
        return []

    def check(self, plan: Plan) -> list[str]:
        if plan.stray_tag is not None or self.state(plan).state is not State.TODO:
            return []  # a stray vX is refused by the runner, once, for every step trusting it
        repo = plan.repo
        if repo.rev("HEAD") is None:
            return [
                "the repository has no commits yet: commit Cargo.toml, Cargo.lock and "
                f"CHANGELOG.md on {plan.release_branch} and push it, then release"
            ]
        merging = checks.merge_in_progress(repo)
        problems = [*checks.index_unlocked(repo), *merging]

        if plan.flow == "release":
            problems += checks.on_branch(repo, plan.release_branch)
        edits: dict[str, bytes] | None = None
        unreadable = False
        if repo.rev(f"refs/heads/{plan.commit_branch}") is not None:
            try:
                edits = planned_files(plan, f"refs/heads/{plan.commit_branch}")
            except ReleaseError as error:
                problems.append(str(error))
                unreadable = True
        sparse = [name for name in RELEASE_FILES if repo.skipped_by_sparse_checkout(name)]
        problems += [
            f"{name} is left out by the sparse checkout, and the release commit changes it: "
            f"git sparse-checkout disable (or add {name} to it)"
            for name in sparse
        ]
        # A merge in progress or a sparse checkout explains the changed files: name only it.
        if not merging and not sparse and (edits is None or not worktree_holds(plan, edits)):
            problems += checks.clean(repo)
        problems += [*checks.not_shallow(repo), *checks.identity(repo)]
        if plan.flow == "hotfix":
            problems += self.hotfix_problems(plan)
        else:
            problems += self.release_problems(plan, manifest_checked=unreadable)
        return problems

    def release_problems(self, plan: Plan, manifest_checked: bool = False) -> list[str]:
        repo = plan.repo
        state = repo.remote_state(plan.remote)
        problems = checks.in_sync(repo, plan.remote, state, plan.release_branch, None)
        base = release_ref(repo, state, plan.release_branch)
        others = [v for v in reachable(repo, base) if v != plan.version]
        problems += new_version_problems(plan.version, others, set(repo.tags()) | set(state.tags))
        if not manifest_checked:  # else its problem is already reported, once
            problems += manifest_problems(plan)
        if not plan.allow_empty and repo.rev("HEAD") is not None:
            since = f"{tag_name(plan.previous)}..{base}" if plan.previous else base
            if repo.count(since) < 1:
                problems.append(
                    f"no commits since {tag_name(plan.previous) if plan.previous else 'the start'}"
                    ": nothing to release (pass --allow-empty to release anyway)"
                )
        return problems

    def hotfix_problems(self, plan: Plan) -> list[str]:
        repo = plan.repo
        branch = plan.commit_branch
        if repo.rev(f"refs/heads/{branch}") is None:
            return [f"branch {branch} does not exist: start it with invoke hotfix {plan.version}"]
        if repo.count(f"{plan.base_tag}..refs/heads/{branch}") < 1:
            return [f"{branch} has no commit beyond {plan.base_tag}: commit the fix first"]
        return checks.hotfix_holds_only_its_line(plan)

    def describe(self, plan: Plan) -> list[str]:
        lines = []
        if plan.repo.current_branch() != plan.commit_branch:
            lines.append(f"git switch {plan.commit_branch}")
        lines += [
            f"set version {plan.version} in Cargo.toml and Cargo.lock",
            f"move [Unreleased] to '## [{plan.version}] - {plan.today.isoformat()}' "
            "in CHANGELOG.md, with the grouped commits since "
            + (tag_name(plan.previous) if plan.previous else "the start"),
            f"git commit -m {plan.commit_message!r} -- {' '.join(RELEASE_FILES)}",
        ]
        return lines

    def run(self, plan: Plan, say: Say) -> None:
        repo = plan.repo
        start_branch = repo.current_branch()
        before = repo.rev(f"refs/heads/{plan.commit_branch}")
        edits = planned_files(plan, f"refs/heads/{plan.commit_branch}", say)
        originals = {
            name: (plan.root / name).read_bytes() if (plan.root / name).exists() else None
            for name in edits
        }
        try:
            if start_branch != plan.commit_branch:
                repo.switch(plan.commit_branch)
            for name, data in edits.items():
                (plan.root / name).write_bytes(data)
            repo.call("add", "--", *edits)
            stamp = f"@{plan.epoch} +0000"
            repo.call(
                "commit",
                "--quiet",
                "-m",
                plan.commit_message,
                "--",
                *edits,
                env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
            )
        except BaseException as error:
            tip = repo.rev(f"refs/heads/{plan.commit_branch}")
            if (
                tip != before
                and tip is not None
                and is_release_commit(repo, tip, plan.version, plan.commit_message)
            ):
                raise  # the commit landed (Ctrl-C after it): the rerun finds it done
            self.restore(plan, originals, start_branch)
            if isinstance(error, GitError):
                raise ReleaseError(
                    f"git commit of the release failed: {error.reason}; the release files, the "
                    "index and the branch were restored",
                    "fix what git says (a hook, commit signing), then run the same command again",
                ) from None
            if isinstance(error, OSError):
                raise ReleaseError(
                    f"writing the release files failed ({error.strerror}); they were restored",
                    "fix the cause, then run the same command again",
                ) from None
            raise

    @staticmethod
    def restore(plan: Plan, originals: dict[str, bytes | None], branch: str | None) -> None:
        repo = plan.repo
        for name, data in originals.items():
            path: Path = plan.root / name
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        with contextlib.suppress(GitError):
            repo.call("reset", "--quiet", "--", *originals)
        if branch and repo.current_branch() != branch:
            with contextlib.suppress(ReleaseError):  # GitError, or changes it will not overwrite
                repo.switch(branch)
