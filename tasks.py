"""Invoke tasks for Barycenter's maintainers: `invoke --list` shows them all.

This file parses arguments and calls into `release/`; the work happens there.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import Task, task

from release import commands
from release.options import HotfixOptions, ReleaseOptions

# The help of the options many tasks share, said once; a task's own `help` says the rest.
SHARED_HELP = {
    "repo": "the repository (default: this checkout)",
    "dry_run": "print each action, change nothing",
    "image": "the image repository (default: image in pyproject.toml)",
    "format": "table (default) or json",
    "sign": "sign the tag with git's own signing setup (GPG or SSH)",
    "fresh": "with --rehearsal: start from a new sandbox",
    "allow_empty": "release even with no commit since the previous release",
}


def documented_task(
    help: dict[str, str] | None = None, **options: Any
) -> Callable[[Callable[..., None]], Task[Any]]:
    """invoke's @task, each option's help from the task's own `help` or else SHARED_HELP: an
    option with neither fails here, when tasks.py is loaded."""

    def decorate(body: Callable[..., None]) -> Task[Any]:
        names = [name for name in inspect.signature(body).parameters if name != "c"]
        texts = {name: (help or {}).get(name) or SHARED_HELP[name] for name in names}
        made: Task[Any] = task(help=texts, **options)(body)
        return made

    return decorate


@documented_task(
    default=True,
    help={
        "version": "the version to release, e.g. 1.2.0 or 1.2.0-rc.1 (default: the one the "
        "conventional commits since the previous release make, confirmed on a terminal)",
        "pre": "without --version: the next pre-release with this label, e.g. --pre rc",
        "final": "without --version: the stable release of the current pre-release line",
        "yes": "take the version the commits make without asking (CI, scripts)",
        "dry_run": "print the whole plan, every git and docker action in order; change nothing",
        "rehearsal": "release a clone of the checkout in a sandbox, for real, on the local stack "
        "(registry, GitHub stand-in, ephemeral cosign key): up to the tag push, then release.yml "
        "run by act; VERSION defaults to the next one",
        "ci": "stop after the tag push and follow the tag-triggered workflow run (Actions API)",
        "merge_method": 'with --rehearsal, where release-via = "pull-request": how the '
        "rehearsal, as the reviewer, merges each pull request: merge (default), squash or rebase",
    },
)
def release_all(
    c: Context,
    version: str = "",
    dry_run: bool = False,
    allow_empty: bool = False,
    sign: bool = False,
    image: str = "",
    repo: str = ".",
    rehearsal: bool = False,
    fresh: bool = False,
    ci: bool = False,
    pre: str | None = None,
    final: bool = False,
    yes: bool = False,
    merge_method: str = "",
) -> None:
    """Release VERSION from main end to end: the tag, the images, the GitHub release.

    It runs every step in turn: release-branch, prepare, pull-request, merged, tag, push,
    merge-develop, push-develop, develop-pull-request, develop-merged, build, binaries,
    checksums, publish, attest, github, verify.

    With release-via = "pull-request" (a protected main), the release commit is made on
    release/vX and proposed by a pull request; the run stops, successfully, "waiting for pull
    request #N". Run the same command once it is merged (merge, squash or rebase): it tags the
    release commit found on main and goes on. Develop is protected too: the release merged
    into merge/vX-into-develop is proposed by a second pull request, waited for the same way.

    Without --version, the version comes from the conventional commits since the previous
    release (breaking: major, below 1.0.0 minor; feat: minor; anything else: patch), printed
    with the commits that decided it and confirmed on a terminal; --yes takes it unasked.

    Every check runs before the first change. Run it again after any failure: it continues
    where it stopped and repeats no side effect. `invoke release.status` shows where it is.
    """
    if rehearsal:
        from devstack import rehearsal as sandbox

        def rehearse() -> None:
            commands.refuse_version_choice(pre, final, "--rehearsal")
            sandbox.rehearse_release(Path(repo), version, fresh, dry_run, merge_method)

        commands.run(rehearse)
        return
    options = ReleaseOptions(
        version=version, dry_run=dry_run, allow_empty=allow_empty, sign=sign, image=image
    )

    def release() -> None:
        commands.refuse_rehearsal_only(merge_method=merge_method)
        commands.release(Path(repo), options, ci, pre, final, yes)

    commands.run(release)


@documented_task(
    help={
        "version": "the release to report on, e.g. 1.2.0",
    }
)
def status(
    c: Context, version: str = "", format: str = "table", image: str = "", repo: str = "."
) -> None:
    """Show every step's state for the release of VERSION: git, the registry, dist/, GitHub.

    Works from any clone: nothing is read from local notes of earlier runs.
    """
    commands.run(lambda: commands.status(Path(repo), version, format, image))


@documented_task(
    help={
        "version": "the version to prepare, e.g. 1.2.0 or 1.2.0-rc.1",
    }
)
def prepare(
    c: Context, version: str = "", dry_run: bool = False, allow_empty: bool = False, repo: str = "."
) -> None:
    """Bump Cargo.toml/Cargo.lock, finalize CHANGELOG.md and commit `chore(release): vX`.

    With release-via = "pull-request" it refuses, naming `invoke release`, which proposes the
    release commit by a pull request.

    Checks first (all problems at once): on the release branch, clean, equal to its remote,
    tag free, version above every reachable release. Rerunning converges.
    """
    options = ReleaseOptions(version=version, dry_run=dry_run, allow_empty=allow_empty)
    commands.run(lambda: commands.run_slice("release.prepare", Path(repo), options))


@documented_task(
    help={
        "version": "the version to tag (its release commit must be HEAD)",
    }
)
def tag(
    c: Context, version: str = "", sign: bool = False, dry_run: bool = False, repo: str = "."
) -> None:
    """Tag the release commit vVERSION (annotated) and push branch and tag in one atomic push.

    With release-via = "pull-request": the release commit its merged pull request put on main
    is tagged, and the tag pushed alone; before the merge it refuses, naming `invoke release`.
    """
    options = ReleaseOptions(version=version, dry_run=dry_run, sign=sign)
    commands.run(lambda: commands.run_slice("release.tag", Path(repo), options))


@documented_task(
    help={
        "version": "notes of this release: its tag if it exists, else the next release as it "
        "would be at HEAD (default: the unreleased work)",
        "format": "md (default) or json",
        "bump": "print only the next version the commits make (for scripts)",
        "pre": "with --bump: the next pre-release with this label, e.g. --pre rc",
        "final": "with --bump: the stable release of the current pre-release line",
    }
)
def notes(
    c: Context,
    version: str = "",
    repo: str = ".",
    format: str = "md",
    bump: bool = False,
    pre: str | None = None,
    final: bool = False,
) -> None:
    """Print release notes from the conventional commits since the previous release tag.

    The range: a stable release counts from the previous stable release that is its ancestor
    (across its release candidates), a pre-release from the previous release of any kind, a
    hotfix from its base; tags that are not ancestors never count.
    """
    if bump or pre is not None or final:
        commands.run(lambda: print(commands.next_version(Path(repo), version, bump, pre, final)))
        return
    from release.notes import render

    commands.run(lambda: print(render(Path(repo), version, format), end=""))


@documented_task(
    help={
        "full": "rebuild every release's section from history (adopting this tool)",
        "output": "where to write: a file, or - for stdout (default: CHANGELOG.md)",
        "no_cache": "read every released range from git, not from the cache in .git/",
        "force": "with --full, overwrite uncommitted changes to the output file",
    }
)
def changelog(
    c: Context,
    full: bool = False,
    output: str = "CHANGELOG.md",
    repo: str = ".",
    no_cache: bool = False,
    force: bool = False,
) -> None:
    """Add CHANGELOG.md sections for release tags that lack one (--full: rebuild them all).

    --full rebuilds each tag's section from the range its notes cover, keeps hand-written
    Unreleased entries and the sections of versions without a tag, and refuses to overwrite
    uncommitted changes without --force. Released ranges are cached in .git/barycenter-release/,
    keyed by the release tags (released tags are immutable); a new or moved tag rebuilds it.
    """
    from release.changelog_from_history import write

    commands.run(lambda: write(Path(repo), full, output, use_cache=not no_cache, force=force))


@documented_task(
    help={
        "version": "the version to build: its tag must exist",
        "platform": "build only this platform (one CI job per platform)",
    }
)
def build(
    c: Context,
    version: str = "",
    platform: str = "",
    image: str = "",
    dry_run: bool = False,
    repo: str = ".",
) -> None:
    """Build the image once per platform from the tag, with its own cache; push; extract binaries.

    The build context is the tagged tree (git archive), never the working tree. Each platform
    is pushed as IMAGE:vX-<arch>; dist/vX/ gets barycenter-vX-linux-<arch>.tar.gz and one
    build log per platform (dist/vX/logs/), and SHA256SUMS when every platform is built (with
    --platform, the job holding every archive writes it: invoke release.checksums).
    """
    options = ReleaseOptions(version=version, dry_run=dry_run, platform=platform, image=image)
    commands.run(lambda: commands.run_slice("release.build", Path(repo), options))


@documented_task(
    help={
        "version": "the version whose archives SHA256SUMS covers",
    }
)
def checksums(c: Context, version: str = "", dry_run: bool = False, repo: str = ".") -> None:
    """Write dist/vX/SHA256SUMS over every platform's archive, each checked to be the release's.

    For CI, where each platform's archive was built by its own job: run it where the archives
    are downloaded together. invoke release.build writes it too when it builds every platform.
    """
    options = ReleaseOptions(version=version, dry_run=dry_run)
    commands.run(lambda: commands.run_slice("release.checksums", Path(repo), options))


@documented_task(
    help={
        "version": "the version to publish",
        "force": "move a version tag that points at other images",
    }
)
def publish(
    c: Context,
    version: str = "",
    force: bool = False,
    image: str = "",
    dry_run: bool = False,
    repo: str = ".",
) -> None:
    """Publish the multi-arch index tagged vVERSION (and latest/X.Y/X where they apply).

    Registry login: the token in $GITHUB_TOKEN (registry-password-env) goes to docker login on
    stdin; without it, docker's existing credentials are used.
    """
    options = ReleaseOptions(version=version, dry_run=dry_run, image=image, move_version_tag=force)
    commands.run(lambda: commands.run_slice("release.publish", Path(repo), options))


@documented_task(
    help={
        "version": "the released version",
    }
)
def github(
    c: Context, version: str = "", image: str = "", dry_run: bool = False, repo: str = "."
) -> None:
    """Create or finish the GitHub release of vVERSION: notes, pull line, assets, published.

    A rerun after any failure finds its own draft, keeps the assets already uploaded whole, and
    ends with one release, each asset once. The token comes from $GITHUB_TOKEN or $GH_TOKEN.
    """
    options = ReleaseOptions(version=version, dry_run=dry_run, image=image)
    commands.run(lambda: commands.run_slice("release.github", Path(repo), options))


@documented_task(
    help={
        "version": "the released version",
    }
)
def attest(
    c: Context, version: str = "", image: str = "", dry_run: bool = False, repo: str = "."
) -> None:
    """Sign an SLSA provenance attestation of the index and the archives with cosign.

    Attached to the image in the registry and written to dist/ as a bundle. The key is
    attestation-key; its password comes from $COSIGN_PASSWORD (attestation-password-env).
    """
    options = ReleaseOptions(version=version, dry_run=dry_run, image=image)
    commands.run(lambda: commands.run_slice("release.attest", Path(repo), options))


@documented_task(
    help={
        "version": "the released version to rebuild, e.g. 1.2.0 (its tag must be here)",
        "platform": "rebuild only this platform",
    }
)
def reproduce(
    c: Context,
    version: str = "",
    platform: str = "",
    image: str = "",
    format: str = "table",
    repo: str = ".",
) -> None:
    """Rebuild a release from its tag with no cache and compare it with what was published.

    Each platform's image manifest digest against the registry's, each archive's sha256 against
    dist/SHA256SUMS; names the layers and files, or the moved base image, behind a difference.
    Pushes nothing. Exits 1 when anything differs.
    """
    commands.run(lambda: commands.reproduce(Path(repo), version, platform, image, format))


@documented_task(
    help={
        "version": "the released version",
    }
)
def verify(
    c: Context, version: str = "", format: str = "table", image: str = "", repo: str = "."
) -> None:
    """Check the post-release checklist against git, the registry, cosign and dist/.

    The index holds exactly the configured platforms; vX pulls and runs on each, printing X and
    the tag's commit; latest and the floating tags are where the policy says; the provenance
    verifies and names the commit; dist/'s checksums match; develop holds the release.
    Exits 1 naming each failure; the manual items are printed as reminders.
    """
    commands.run(lambda: commands.verify(Path(repo), version, format, image))


@documented_task(
    help={
        "version": "the release to undo",
        "force": "roll back even when a newer release exists",
    }
)
def rollback(
    c: Context,
    version: str = "",
    force: bool = False,
    image: str = "",
    dry_run: bool = False,
    repo: str = ".",
) -> None:
    """Undo the release of VERSION: the GitHub release, its images, its tag and release commit.

    latest and the floating tags move back to the previous highest stable release before X's
    images are deleted; the tag goes here and on the remote; the release commit is reverted on
    main. Refused unless VERSION is the most recent release (--force). Rerunning converges.
    """
    options = ReleaseOptions(version=version, dry_run=dry_run, image=image)
    commands.run(lambda: commands.rollback(Path(repo), options, force))


@documented_task(
    default=True,
    positional=["version"],
    help={
        "version": "the hotfix version, e.g. 1.2.1: the next patch of a release line",
        "push": "publish the branch to the remote",
        "force": "allow skipping patch numbers",
        "rehearsal": "in the rehearsal sandbox: start, commit an empty fix, finish, then build, "
        "publish, release and verify it on the local stack",
    },
)
def hotfix_start(
    c: Context,
    version: str,
    push: bool = False,
    force: bool = False,
    dry_run: bool = False,
    repo: str = ".",
    rehearsal: bool = False,
    fresh: bool = False,
) -> None:
    """Create hotfix/VERSION from the highest release tag of VERSION's major.minor, check it out."""
    if rehearsal:
        from devstack import rehearsal as sandbox

        commands.run(lambda: sandbox.rehearse_hotfix(Path(repo), version, fresh))
        return
    options = HotfixOptions(version=version, dry_run=dry_run, push_branch=push, skip_patches=force)
    commands.run(lambda: commands.run_slice("hotfix.start", Path(repo), options))


@documented_task(
    help={
        "version": "the hotfix version (default: from the current hotfix/* branch)",
        "keep_branch": "keep hotfix/VERSION after finishing",
    }
)
def hotfix_finish(
    c: Context,
    version: str = "",
    keep_branch: bool = False,
    sign: bool = False,
    dry_run: bool = False,
    repo: str = ".",
) -> None:
    """Finish hotfix/VERSION: bump, merge into main, tag, push, merge back into develop.

    Bumps and commits on the hotfix branch, merges it into main with --no-ff, tags vVERSION,
    pushes main and the tag atomically, merges back into develop and deletes the branch. After
    a conflict resolved by hand, run it again: it continues where it stopped.

    With release-via = "pull-request" (protected main and develop), the hotfix branch is pushed
    and proposed into main by a pull request instead of merged; the run stops "waiting for pull
    request #N", and the same command tags the merged release commit, then proposes the merge
    into develop the same way.
    """
    options = HotfixOptions(version=version, dry_run=dry_run, keep_branch=keep_branch, sign=sign)
    commands.run(lambda: commands.hotfix_finish(Path(repo), options))


@documented_task()
def stack_up(c: Context) -> None:
    """Install and start the local release stack (idempotent; reuses what runs)."""
    from devstack import lifecycle

    lifecycle.print_status(commands.run(lifecycle.up))


@documented_task()
def stack_status(c: Context) -> None:
    """Show what of the local release stack runs, where its logs are, and what is missing."""
    from devstack import lifecycle

    components = lifecycle.status()
    lifecycle.print_status(components)
    if not all(component.ok or component.optional for component in components):
        raise SystemExit(1)


@documented_task()
def stack_down(c: Context) -> None:
    """Stop the processes the stack started (by PID; as a user, remove the registry container)."""
    from devstack import lifecycle

    stopped = lifecycle.down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing (the stack started none)"))


@documented_task()
def keygen(c: Context, repo: str = ".") -> None:
    """Make the offline attestation key pair (attestation-key, attestation-public-key).

    The private key is encrypted with the password in $COSIGN_PASSWORD (attestation-password-env),
    which reaches cosign through its environment only. An existing key is never replaced. Keep
    cosign.key secret (it is git-ignored); publish cosign.pub for consumers.
    """
    from release import cosign

    key, public = commands.run(lambda: cosign.keygen(Path(repo)))
    print(f"wrote {key} (secret) and {public} (publish it)")


release_tasks = Collection("release")
release_tasks.add_task(release_all, name="all", default=True)
for each in (
    prepare,
    tag,
    notes,
    changelog,
    build,
    checksums,
    publish,
    status,
    github,
    attest,
    verify,
    reproduce,
    keygen,
    rollback,
):
    release_tasks.add_task(each)

hotfix_tasks = Collection("hotfix")
hotfix_tasks.add_task(hotfix_start, name="start", default=True)
hotfix_tasks.add_task(hotfix_finish, name="finish")

stack_tasks = Collection("stack")
stack_tasks.add_task(stack_up, name="up")
stack_tasks.add_task(stack_status, name="status")
stack_tasks.add_task(stack_down, name="down")

ns = Collection(release_tasks, hotfix_tasks, stack_tasks)
