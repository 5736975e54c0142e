"""The hotfix flow: hotfix/X from the latest release of its line, then finish it.

Finishing bumps on the hotfix branch, merges into main with --no-ff, tags, pushes main and the
tag atomically, merges back into develop and deletes the branch. Each step checks whether it is
done, so `hotfix.finish` after a conflict resolved by hand continues where it stopped.
"""

from __future__ import annotations

import git
import semver

from release import cargo, changelog
from release.context import ReleaseContext
from release.errors import PreflightError, ReleaseError
from release.steps import Action, Check, checks
from release.steps.prepare import RELEASE_FILES, is_release_commit, write_changelog
from release.steps.tag import CreateTag, PushRelease
from release.version import hotfix_base, latest_of_line, release_versions, tag_name

VERSION_FILES = ("Cargo.toml", "Cargo.lock")


def all_tags(ctx: ReleaseContext) -> set[str]:
    return set(ctx.repo.tags()) | set(ctx.repo.remote_state(ctx.remote).tags)


class StartPreflight(Check):
    def run(self, ctx: ReleaseContext) -> None:
        repo = ctx.repo
        problems = [*checks.clean(repo), *checks.not_shallow(repo), *checks.identity(repo)]
        state = repo.remote_state(ctx.remote)
        ctx.hotfix_base = hotfix_base(ctx.version, set(repo.tags()) | set(state.tags), ctx.force)
        if repo.tag_target(ctx.base_tag) is None:
            problems.append(f"tag {ctx.base_tag} is not here: git fetch --tags {ctx.remote}")
        if ctx.hotfix_branch in repo.branches() or ctx.hotfix_branch in state.heads:
            problems.append(
                f"branch {ctx.hotfix_branch} already exists: switch to it "
                f"(git switch {ctx.hotfix_branch}) or finish it (invoke hotfix.finish)"
            )
        if problems:
            raise PreflightError(problems)


class CreateHotfixBranch(Action):
    name = "create the hotfix branch"

    def done(self, ctx: ReleaseContext) -> bool:
        return ctx.repo.current_branch() == ctx.hotfix_branch

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [f"git switch -c {ctx.hotfix_branch} {ctx.base_tag}"]

    def run(self, ctx: ReleaseContext) -> None:
        ctx.repo.run.switch("-c", ctx.hotfix_branch, ctx.base_tag)


class PushHotfixBranch(Action):
    name = "publish the hotfix branch"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None if ctx.push_branch else "not asked to (--push publishes it)"

    def done(self, ctx: ReleaseContext) -> bool:
        remote = ctx.repo.remote_state(ctx.remote).heads.get(ctx.hotfix_branch)
        return remote is not None and remote == ctx.repo.rev(f"refs/heads/{ctx.hotfix_branch}")

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [f"git push -u {ctx.remote} {ctx.hotfix_branch}"]

    def run(self, ctx: ReleaseContext) -> None:
        ctx.repo.run.push("-u", ctx.remote, ctx.hotfix_branch)


START = (StartPreflight(), CreateHotfixBranch(), PushHotfixBranch())


def infer_hotfix_version(ctx_branch: str | None, branches: list[str]) -> str:
    """X from the current hotfix/X branch, or from the only hotfix branch there is."""
    if ctx_branch and ctx_branch.startswith("hotfix/"):
        return ctx_branch.removeprefix("hotfix/")
    candidates = [b.removeprefix("hotfix/") for b in branches if b.startswith("hotfix/")]
    if len(candidates) == 1:
        return candidates[0]
    raise ReleaseError(
        "cannot tell which hotfix to finish"
        + (f" (branches: {', '.join(candidates)})" if candidates else " (no hotfix/* branch)"),
        "pass it: invoke hotfix.finish --version X.Y.Z",
    )


def develop_exists(ctx: ReleaseContext) -> bool:
    develop = ctx.config.develop_branch
    return bool(develop) and (
        develop in ctx.repo.branches() or develop in ctx.repo.remote_state(ctx.remote).heads
    )


def unreleased_on_main(ctx: ReleaseContext) -> list[str]:
    """Commits on main that are in no release tag: main should hold released code only."""
    releases = [tag_name(v) for v in release_versions(ctx.repo.tags())]
    main = f"refs/heads/{ctx.release_branch}"
    output = ctx.repo.output(
        "rev-list", "--format=%h %s", "--no-commit-header", main, "--not", *releases
    )
    return [line for line in output.splitlines() if line]


def tags_on_branch(ctx: ReleaseContext) -> bool:
    """An old line (main has a newer release) or a main with unreleased work, when configured:
    the tag goes on the hotfix branch and main is left alone."""
    main = f"refs/heads/{ctx.release_branch}"
    newest_on_main = max(checks.reachable_releases(ctx.repo, main), default=None)
    if newest_on_main is not None and newest_on_main > ctx.version:
        return True
    return ctx.config.hotfix_tag_on_branch and bool(unreleased_on_main(ctx))


class FinishPreflight(Check):
    def run(self, ctx: ReleaseContext) -> None:
        repo = ctx.repo
        problems = [*checks.clean(repo), *checks.not_shallow(repo), *checks.identity(repo)]
        state = repo.remote_state(ctx.remote)
        tags = set(repo.tags()) | set(state.tags)
        base = latest_of_line(ctx.version, tags - {ctx.tag})
        if base is None:
            raise PreflightError([f"no {ctx.version.major}.{ctx.version.minor} release to hotfix"])
        ctx.hotfix_base = base
        branch_here = ctx.hotfix_branch in repo.branches()
        if not branch_here and repo.tag_target(ctx.tag) is None:
            problems.append(
                f"branch {ctx.hotfix_branch} does not exist: "
                f"start it with invoke hotfix {ctx.version}"
            )
        if branch_here:
            tip = f"refs/heads/{ctx.hotfix_branch}"
            own = 1 if is_release_commit(repo, tip, ctx.version) else 0
            if repo.count(f"{ctx.base_tag}..{tip}") - own < 1:
                problems.append(
                    f"{ctx.hotfix_branch} has no commit beyond {ctx.base_tag}: commit the fix first"
                )
            local_tag = repo.tag_target(ctx.tag)
            if local_tag is not None and not repo.is_ancestor(tip, local_tag):
                problems.append(
                    f"tag {ctx.tag} exists on another commit: released tags are immutable"
                )
        main = ctx.release_branch
        local_main = repo.rev(f"refs/heads/{main}")
        remote_main = state.heads.get(main)
        if (
            local_main
            and remote_main
            and remote_main != local_main
            and (not repo.has_object(remote_main) or not repo.is_ancestor(remote_main, local_main))
        ):
            problems.append(
                f"'{main}' is behind {ctx.remote}/{main}: "
                f"git switch {main} && git pull --ff-only {ctx.remote} {main}"
            )
        if branch_here and not tags_on_branch(ctx):
            stray = unreleased_on_main(ctx)
            merged = f"refs/heads/{ctx.hotfix_branch}"
            if stray and not repo.is_ancestor(merged, f"refs/heads/{main}"):
                problems.append(
                    f"'{main}' carries {len(stray)} commit(s) in no release ({stray[0]}): a hotfix "
                    f"merges into '{main}' only when it holds released code; release or revert "
                    "them, or set hotfix-tag-on-branch = true to tag the hotfix branch instead"
                )
        if problems:
            raise PreflightError(problems)


class HotfixReleaseCommit(Action):
    name = "bump and commit on the hotfix branch"

    def done(self, ctx: ReleaseContext) -> bool:
        tip = f"refs/heads/{ctx.hotfix_branch}"
        if ctx.hotfix_branch not in ctx.repo.branches():
            return ctx.repo.tag_target(ctx.tag) is not None
        return is_release_commit(ctx.repo, tip, ctx.version)

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [
            f"git switch {ctx.hotfix_branch}",
            f"set version {ctx.version} in Cargo.toml and Cargo.lock",
            f"add '## [{ctx.version}] - {ctx.today.isoformat()}' to CHANGELOG.md",
            f"git commit -m {ctx.commit_message!r} -- {' '.join(RELEASE_FILES)}",
        ]

    def run(self, ctx: ReleaseContext) -> None:
        repo = ctx.repo
        repo.run.switch(ctx.hotfix_branch)
        cargo.bump(repo.root, str(ctx.version))
        write_changelog(ctx)
        present = [name for name in RELEASE_FILES if (repo.root / name).exists()]
        repo.run.add("--", *present)
        repo.run.commit("-m", ctx.commit_message, "--", *present)


class MergeIntoMain(Action):
    name = "merge the hotfix into main"

    def skip(self, ctx: ReleaseContext) -> str | None:
        if ctx.hotfix_branch in ctx.repo.branches() and tags_on_branch(ctx):
            return "the tag goes on the hotfix branch (an older line, or unreleased work on main)"
        return None

    def done(self, ctx: ReleaseContext) -> bool:
        if ctx.hotfix_branch not in ctx.repo.branches():
            return True
        return ctx.repo.is_ancestor(
            f"refs/heads/{ctx.hotfix_branch}", f"refs/heads/{ctx.release_branch}"
        )

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [
            f"git switch {ctx.release_branch}",
            f"git merge --no-ff {ctx.hotfix_branch} -m \"Merge branch '{ctx.hotfix_branch}'\"",
        ]

    def run(self, ctx: ReleaseContext) -> None:
        ctx.repo.run.switch(ctx.release_branch)
        try:
            ctx.repo.run.merge(
                "--no-ff", ctx.hotfix_branch, "-m", f"Merge branch '{ctx.hotfix_branch}'"
            )
        except git.GitCommandError:
            ctx.repo.run.merge("--abort")
            raise ReleaseError(
                f"merging {ctx.hotfix_branch} into {ctx.release_branch} conflicted and was aborted",
                f"{ctx.release_branch} should hold released code only: bring it back to the "
                "latest release, then run invoke hotfix.finish again",
            ) from None


class TagHotfix(CreateTag):
    def target_of(self, ctx: ReleaseContext) -> str:
        """main's merge of the hotfix, or the hotfix branch when main is left alone."""
        branch = ctx.hotfix_branch if tags_on_branch_safe(ctx) else ctx.release_branch
        return f"refs/heads/{branch}"

    def done(self, ctx: ReleaseContext) -> bool:
        return ctx.repo.tag_target(ctx.tag) is not None


class PushHotfix(PushRelease):
    def branch_of(self, ctx: ReleaseContext) -> str:
        return ctx.hotfix_branch if tags_on_branch_safe(ctx) else ctx.release_branch

    def run(self, ctx: ReleaseContext) -> None:
        try:
            super().run(ctx)
        except ReleaseError as error:
            raise ReleaseError(
                str(error.problem),
                f"update {self.branch_of(ctx)}, then run invoke hotfix.finish again",
            ) from None


class MergeBackIntoDevelop(Action):
    name = "merge the hotfix back into develop"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None if develop_exists(ctx) else f"there is no {ctx.config.develop_branch} branch"

    def done(self, ctx: ReleaseContext) -> bool:
        develop = f"refs/heads/{ctx.config.develop_branch}"
        if ctx.repo.rev(develop) is None:
            return False
        return ctx.repo.is_ancestor(f"refs/tags/{ctx.tag}", develop)

    def describe(self, ctx: ReleaseContext) -> list[str]:
        develop = ctx.config.develop_branch
        return [
            f"git switch {develop}",
            f"git merge --no-ff {ctx.tag} (version-file conflicts resolved in {develop}'s "
            "favour when its version is higher; the CHANGELOG section inserted in version order)",
        ]

    def run(self, ctx: ReleaseContext) -> None:
        repo = ctx.repo
        develop = ctx.config.develop_branch
        if develop in repo.branches():
            repo.run.switch(develop)
        else:
            repo.run.switch("-c", develop, "--track", f"{ctx.remote}/{develop}")
        develop_version = cargo.crate_version(repo.root).version
        try:
            repo.run.merge("--no-ff", ctx.tag, "-m", f"Merge {ctx.tag} back into {develop}")
            return
        except git.GitCommandError:
            pass
        conflicted = [
            p for p in repo.output("diff", "--name-only", "--diff-filter=U").splitlines() if p
        ]
        resolvable = (
            set(VERSION_FILES) if semver.Version.parse(develop_version) > ctx.version else set()
        )
        for path in conflicted:
            if path in resolvable:
                repo.run.checkout("--ours", "--", path)
                repo.run.add("--", path)
            elif path == "CHANGELOG.md":
                self.merge_changelog(ctx)
                repo.run.add("--", path)
        left = [p for p in repo.output("diff", "--name-only", "--diff-filter=U").splitlines() if p]
        if left:
            raise ReleaseError(
                f"merging {ctx.tag} into {develop} stopped on conflicts in {', '.join(left)}",
                f"resolve them, git add them, git commit, then run invoke hotfix.finish "
                f"--version {ctx.version} again",
            )
        repo.run.commit("--no-edit")

    @staticmethod
    def merge_changelog(ctx: ReleaseContext) -> None:
        """develop's CHANGELOG with the hotfix's section inserted where its version belongs."""
        ours = ctx.repo.output("show", ":2:CHANGELOG.md", strip=False)
        theirs = ctx.repo.output("show", ":3:CHANGELOG.md", strip=False)
        section = changelog.section_body(theirs, ctx.version)
        day = changelog.release_date(theirs, ctx.version) or ctx.today
        merged = changelog.finalize(
            ours,
            ctx.version,
            day,
            ctx.hotfix_base,
            ctx.config.source_url,
            generated=section,
            keep_unreleased=True,
        )
        (ctx.repo.root / "CHANGELOG.md").write_text(merged)


class PushDevelop(Action):
    name = "push develop"

    def skip(self, ctx: ReleaseContext) -> str | None:
        return None if develop_exists(ctx) else f"there is no {ctx.config.develop_branch} branch"

    def done(self, ctx: ReleaseContext) -> bool:
        develop = ctx.config.develop_branch
        return ctx.repo.remote_state(ctx.remote).heads.get(develop) == ctx.repo.rev(
            f"refs/heads/{develop}"
        )

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [f"git push {ctx.remote} {ctx.config.develop_branch}"]

    def run(self, ctx: ReleaseContext) -> None:
        develop = ctx.config.develop_branch
        try:
            ctx.repo.run.push(ctx.remote, develop)
        except git.GitCommandError:
            raise ReleaseError(
                f"{ctx.remote} rejected the push of {develop} (it has probably moved)",
                f"git switch {develop} && git pull --no-rebase {ctx.remote} {develop}, then run "
                f"invoke hotfix.finish --version {ctx.version} again",
            ) from None


class DeleteHotfixBranch(Action):
    name = "delete the hotfix branch"

    def skip(self, ctx: ReleaseContext) -> str | None:
        if ctx.keep_branch:
            return "--keep-branch"
        if tags_on_branch_safe(ctx):
            return "the tag is on the hotfix branch, which stays as the line's home"
        return None

    def done(self, ctx: ReleaseContext) -> bool:
        return ctx.hotfix_branch not in ctx.repo.branches() and (
            ctx.hotfix_branch not in ctx.repo.remote_state(ctx.remote).heads
        )

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [
            f"git branch -d {ctx.hotfix_branch}",
            f"git push {ctx.remote} --delete {ctx.hotfix_branch} (if it was published)",
        ]

    def run(self, ctx: ReleaseContext) -> None:
        repo = ctx.repo
        if repo.current_branch() == ctx.hotfix_branch:
            repo.run.switch(ctx.release_branch)
        if ctx.hotfix_branch in repo.branches():
            repo.run.branch("-D", ctx.hotfix_branch)
        if ctx.hotfix_branch in repo.remote_state(ctx.remote).heads:
            repo.run.push(ctx.remote, "--delete", ctx.hotfix_branch)


def tags_on_branch_safe(ctx: ReleaseContext) -> bool:
    """A hotfix tagged on its branch keeps the branch: it is the line's only home."""
    return ctx.hotfix_branch in ctx.repo.branches() and tags_on_branch(ctx)


FINISH = (
    FinishPreflight(),
    HotfixReleaseCommit(),
    MergeIntoMain(),
    TagHotfix(),
    PushHotfix(),
    MergeBackIntoDevelop(),
    PushDevelop(),
    DeleteHotfixBranch(),
)
