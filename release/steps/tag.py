"""release.tag: the annotated tag vX on the release commit, pushed with its branch atomically."""

from __future__ import annotations

import git

from release.context import ReleaseContext
from release.errors import PreflightError, ReleaseError
from release.history import release_range
from release.notes import from_range, groups_of, markdown
from release.steps import Action, Check, checks
from release.steps.prepare import is_release_commit
from release.version import new_version_problems


class TagPreflight(Check):
    def run(self, ctx: ReleaseContext) -> None:
        repo = ctx.repo
        problems = [
            *checks.on_branch(repo, ctx.release_branch),
            *checks.clean(repo),
            *checks.not_shallow(repo),
            *checks.identity(repo),
        ]
        head = repo.rev("HEAD")
        if head is None or not is_release_commit(repo, "HEAD", ctx.version):
            problems.append(
                f"HEAD is not the release commit of {ctx.version}: "
                f"run invoke release.prepare --version {ctx.version} first"
            )
        state = repo.remote_state(ctx.remote)
        problems += checks.in_sync(repo, ctx.remote, state, ctx.release_branch, head)
        problems += checks.tag_free(repo, state, ctx.version, head)
        tags = (set(repo.tags()) | set(state.tags)) - {ctx.tag}
        reachable = [
            v
            for v in checks.reachable_releases(repo, checks.branch_ref(repo, ctx.release_branch))
            if v != ctx.version
        ]
        problems += new_version_problems(ctx.version, reachable, tags)
        if problems:
            raise PreflightError(problems)


def tag_message(ctx: ReleaseContext, ref: str = "HEAD") -> str:
    """The tag's message: a title, then the release notes of the commits it releases."""
    commit = ctx.repo.rev(ref) or ref
    found = release_range(ctx.repo.root, ctx.version, target=commit)
    notes = from_range(found, groups_of(ctx.config))
    notes.tag = ctx.tag
    return f"Barycenter {ctx.tag}\n\n{markdown(notes, ctx.config.source_url)}"


class CreateTag(Action):
    name = "create the annotated tag"

    def target_of(self, ctx: ReleaseContext) -> str:
        """The commit the tag goes on: the release commit at HEAD."""
        return "HEAD"

    def done(self, ctx: ReleaseContext) -> bool:
        existing = ctx.repo.tag_target(ctx.tag)
        return existing is not None and existing == ctx.repo.rev(self.target_of(ctx))

    def describe(self, ctx: ReleaseContext) -> list[str]:
        kind = "-s" if ctx.sign else "-a"
        return [f"git tag {kind} {ctx.tag} {self.target_of(ctx)} -m 'Barycenter {ctx.tag} …'"]

    def run(self, ctx: ReleaseContext) -> None:
        kind = "-s" if ctx.sign else "-a"
        target = self.target_of(ctx)
        try:
            # verbatim: the notes' Markdown headings start with "#", which git would strip.
            ctx.repo.run.tag(
                kind,
                "--cleanup=verbatim",
                ctx.tag,
                target,
                "-m",
                tag_message(ctx, target),
            )
        except git.GitCommandError as error:
            reason = (error.stderr or "").strip().splitlines()
            raise ReleaseError(
                f"git could not create tag {ctx.tag} ({reason[-1] if reason else error.status})",
                "check git's signing setup (user.signingkey, gpg.format) or tag without --sign",
            ) from None


class PushRelease(Action):
    """The branch and its tag in one atomic push: both land, or neither does."""

    name = "push branch and tag atomically"

    def branch_of(self, ctx: ReleaseContext) -> str:
        """The branch pushed with the tag: the release branch."""
        return ctx.release_branch

    def done(self, ctx: ReleaseContext) -> bool:
        state = ctx.repo.remote_state(ctx.remote)
        branch = self.branch_of(ctx)
        return (
            state.heads.get(branch) == ctx.repo.rev(f"refs/heads/{branch}")
            and state.tags.get(ctx.tag) is not None
            and state.tags.get(ctx.tag) == ctx.repo.tag_target(ctx.tag)
        )

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [f"git push --atomic {ctx.remote} {self.branch_of(ctx)} refs/tags/{ctx.tag}"]

    def run(self, ctx: ReleaseContext) -> None:
        branch = self.branch_of(ctx)
        try:
            ctx.repo.run.push("--atomic", ctx.remote, branch, f"refs/tags/{ctx.tag}")
        except git.GitCommandError:
            # Our local tag would otherwise point at a commit the remote never accepted.
            ctx.repo.run.tag("-d", ctx.tag)
            raise ReleaseError(
                f"{ctx.remote} rejected the push of {branch} and {ctx.tag}; nothing was pushed "
                f"and the local tag was removed ({ctx.remote}/{branch} has probably moved)",
                f"git pull --rebase {ctx.remote} {branch}, then run invoke release.tag "
                f"--version {ctx.version} again",
            ) from None


TAG = (TagPreflight(), CreateTag(), PushRelease())
