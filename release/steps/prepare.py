"""release.prepare: bump the manifests, finalize the changelog, commit the release."""

from __future__ import annotations

from pathlib import Path

import semver

from release import cargo, changelog
from release.context import ReleaseContext
from release.errors import PreflightError
from release.git import GitRepo
from release.history import release_range
from release.notes import from_range, group_sections, groups_of
from release.steps import Action, Check, checks
from release.version import new_version_problems, tag_name

RELEASE_FILES = ("Cargo.toml", "Cargo.lock", "CHANGELOG.md")


def is_release_commit(repo: GitRepo, ref: str, version: semver.Version) -> bool:
    """`ref` carries version X in Cargo.toml and a finalized `## [X]` changelog section."""
    manifest = repo.file_at(ref, "Cargo.toml")
    log = repo.file_at(ref, "CHANGELOG.md")
    if manifest is None or log is None:
        return False
    return cargo.version_in_manifest(manifest) == str(version) and changelog.has_release(
        log, version
    )


def previous_release(repo: GitRepo, ref: str, version: semver.Version) -> semver.Version | None:
    earlier = [v for v in checks.reachable_releases(repo, ref) if v < version]
    return max(earlier, default=None)


def write_changelog(ctx: ReleaseContext) -> None:
    """Finalize CHANGELOG.md for X: hand-written Unreleased entries plus the grouped commits
    since the previous release, compare links updated."""
    found = release_range(ctx.repo.root, ctx.version)
    generated = group_sections(from_range(found, groups_of(ctx.config)), ctx.config.source_url)
    path = ctx.repo.root / "CHANGELOG.md"
    path.write_text(
        changelog.finalize(
            path.read_text(),
            ctx.version,
            ctx.today,
            found.previous.version if found.previous else None,
            ctx.config.source_url,
            generated=generated,
        )
    )


class PreparePreflight(Check):
    def run(self, ctx: ReleaseContext) -> None:
        repo = ctx.repo
        problems = [
            *checks.on_branch(repo, ctx.release_branch),
            *checks.clean(repo),
            *checks.not_shallow(repo),
            *checks.identity(repo),
        ]
        head = repo.rev("HEAD")
        resuming = head is not None and is_release_commit(repo, "HEAD", ctx.version)
        state = repo.remote_state(ctx.remote)
        problems += checks.in_sync(
            repo, ctx.remote, state, ctx.release_branch, head if resuming else None
        )
        tags = set(repo.tags()) | set(state.tags)
        if head is not None and repo.tag_target(ctx.tag) == head:
            tags.discard(ctx.tag)  # tagged already by a release.tag run: nothing left to prepare
        reachable = [
            v
            for v in checks.reachable_releases(repo, checks.branch_ref(repo, ctx.release_branch))
            if v != ctx.version
        ]
        problems += new_version_problems(ctx.version, reachable, tags)
        current = cargo.crate_version(repo.root).version
        if semver.Version.parse(current) > ctx.version:
            problems.append(
                f"Cargo.toml is at {current}, above {ctx.version}: "
                f"release a version above {current}"
            )
        previous = previous_release(repo, checks.branch_ref(repo, ctx.release_branch), ctx.version)
        if head is not None and not ctx.allow_empty:
            tip = checks.branch_ref(repo, ctx.release_branch)
            since = f"{tag_name(previous)}..{tip}" if previous else tip
            new_commits = repo.count(since) - (1 if resuming else 0)
            if new_commits < 1:
                problems.append(
                    f"no commits since {tag_name(previous) if previous else 'the start'}: "
                    "nothing to release (pass --allow-empty to release anyway)"
                )
        if problems:
            raise PreflightError(problems)


class BumpManifests(Action):
    name = "bump Cargo.toml and Cargo.lock"

    def done(self, ctx: ReleaseContext) -> bool:
        return cargo.crate_version(ctx.repo.root).version == str(ctx.version)

    def describe(self, ctx: ReleaseContext) -> list[str]:
        current = cargo.crate_version(ctx.repo.root)
        return [
            f"set version {current.version} -> {ctx.version} in Cargo.toml"
            + (" [workspace.package]" if current.inherited else " [package]")
            + f" and Cargo.lock ({', '.join(current.crates)})"
        ]

    def run(self, ctx: ReleaseContext) -> None:
        cargo.bump(ctx.repo.root, str(ctx.version))


class FinalizeChangelog(Action):
    name = "finalize CHANGELOG.md"

    def done(self, ctx: ReleaseContext) -> bool:
        return changelog.has_release(self.path(ctx).read_text(), ctx.version)

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [
            f"move [Unreleased] to '## [{ctx.version}] - {ctx.today.isoformat()}' in CHANGELOG.md"
        ]

    def run(self, ctx: ReleaseContext) -> None:
        write_changelog(ctx)

    @staticmethod
    def path(ctx: ReleaseContext) -> Path:
        return ctx.repo.root / "CHANGELOG.md"


class CommitRelease(Action):
    name = "commit the release"

    def done(self, ctx: ReleaseContext) -> bool:
        return is_release_commit(ctx.repo, "HEAD", ctx.version) and not any(
            path in RELEASE_FILES for path in ctx.repo.uncommitted()
        )

    def describe(self, ctx: ReleaseContext) -> list[str]:
        return [f"git commit -m {ctx.commit_message!r} -- {' '.join(RELEASE_FILES)}"]

    def run(self, ctx: ReleaseContext) -> None:
        present = [name for name in RELEASE_FILES if (ctx.repo.root / name).exists()]
        ctx.repo.run.add("--", *present)
        ctx.repo.run.commit("-m", ctx.commit_message, "--", *present)


PREPARE = (PreparePreflight(), BumpManifests(), FinalizeChangelog(), CommitRelease())
