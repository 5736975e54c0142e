"""The release, top to bottom. Each task runs one list of steps; read them to know the release.

release.prepare  PREPARE: preflight, bump Cargo.toml/Cargo.lock, finalize CHANGELOG, commit
release.tag      TAG:     preflight, annotated tag vX, atomic push of branch and tag
hotfix.start     START:   preflight, hotfix/X from the line's latest release, (push)
hotfix.finish    FINISH:  preflight, bump+commit on hotfix/X, merge into main, tag, push,
                          merge back into develop, push develop, delete hotfix/X
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from release.config import load_config
from release.context import ReleaseContext
from release.git import GitRepo
from release.steps import Step, run_steps
from release.steps.hotfix import FINISH, START, infer_hotfix_version
from release.steps.prepare import PREPARE
from release.steps.tag import TAG
from release.version import parse_version


def context(
    repo_path: Path, version_text: str, say: Callable[[str], None] = print, **options: bool
) -> ReleaseContext:
    version = parse_version(version_text)
    repo = GitRepo(repo_path)
    ctx = ReleaseContext(config=load_config(repo.root), repo=repo, version=version, say=say)
    for name, value in options.items():
        setattr(ctx, name, value)
    return ctx


def run(ctx: ReleaseContext, steps: tuple[Step, ...], task: str) -> None:
    heading = f"{task} {ctx.version}" + (" (dry run: nothing changes)" if ctx.dry_run else "")
    ctx.say(heading)
    run_steps(ctx, steps)


def prepare(repo_path: Path, version: str, *, dry_run: bool, allow_empty: bool) -> None:
    ctx = context(repo_path, version, dry_run=dry_run, allow_empty=allow_empty)
    run(ctx, PREPARE, "release.prepare")


def tag(repo_path: Path, version: str, *, dry_run: bool, sign: bool) -> None:
    ctx = context(repo_path, version, dry_run=dry_run, sign=sign)
    run(ctx, TAG, "release.tag")


def hotfix_start(repo_path: Path, version: str, *, dry_run: bool, push: bool, force: bool) -> None:
    ctx = context(repo_path, version, dry_run=dry_run, push_branch=push, force=force)
    run(ctx, START, "hotfix.start")


def hotfix_finish(
    repo_path: Path, version: str, *, dry_run: bool, keep_branch: bool, sign: bool
) -> None:
    if not version:
        repo = GitRepo(repo_path)
        version = infer_hotfix_version(repo.current_branch(), repo.branches())
    ctx = context(repo_path, version, dry_run=dry_run, keep_branch=keep_branch, sign=sign)
    run(ctx, FINISH, "hotfix.finish")


def build(repo_path: Path, version: str, *, platform: str, image: str, dry_run: bool) -> None:
    from release.steps.build import BUILD

    ctx = context(repo_path, version, dry_run=dry_run)
    ctx.image = image or ctx.config.image
    ctx.platforms = (platform,) if platform else ctx.config.platforms
    run(ctx, BUILD, "release.build")


def publish(repo_path: Path, version: str, *, image: str, force: bool, dry_run: bool) -> None:
    from release.steps.publish import PUBLISH

    ctx = context(repo_path, version, dry_run=dry_run, force=force)
    ctx.image = image or ctx.config.image
    ctx.platforms = ctx.config.platforms
    run(ctx, PUBLISH, "release.publish")
