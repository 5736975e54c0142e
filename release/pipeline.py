"""The release, top to bottom: one ordered list of steps; every task runs a slice of it.

Read PIPELINE to know the release. Hotfix-only stages declare themselves "does not apply" to a
release, so the hotfix flow is the same list with its own first stages.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from release.steps import Step


@dataclass(frozen=True)
class Stage:
    """A place in the order: its step's name, and the step's class ("module:Class" under
    release/). A task imports only the steps of its slice, so release.prepare or hotfix.finish
    never load the registry, cosign and GitHub clients that the tagged stages use."""

    name: str
    step_class: str

    def step(self) -> Step:
        module, _, name = self.step_class.partition(":")
        step: Step = getattr(importlib.import_module(f"release.{module}"), name)()
        return step


PIPELINE: tuple[Stage, ...] = (
    # hotfix: hotfix/X from the latest release of X's line
    Stage("hotfix-branch", "steps.hotfix:StartHotfix"),
    # hotfix, with --push: publish hotfix/X for review
    Stage("hotfix-branch-push", "steps.hotfix:PublishHotfixBranch"),
    # release-via = "pull-request": release/vX from main
    Stage("release-branch", "steps.pull_request:StartReleaseBranch"),
    # bump Cargo.toml/Cargo.lock, finalize CHANGELOG.md, commit: one transaction
    Stage("prepare", "steps.prepare:Prepare"),
    # release-via = "pull-request": push release/vX, open its pull request
    Stage("pull-request", "steps.pull_request:OpenPullRequest"),
    # …and wait for its merge; then find the release commit on main
    Stage("merged", "steps.pull_request:MergedPullRequest"),
    # hotfix: merge --no-ff into main (unless tagged on its own branch)
    Stage("merge-main", "steps.hotfix:MergeIntoMain"),
    # annotated tag vX carrying the release notes
    Stage("tag", "steps.tag:Tag"),
    # the branch and the tag in one atomic push (just the tag through a pull request)
    Stage("push", "steps.tag:Push"),
    # bring the release (a hotfix's CHANGELOG section too) into develop
    Stage("merge-develop", "steps.develop:MergeBackIntoDevelop"),
    # publish develop
    Stage("push-develop", "steps.develop:PushDevelop"),
    # release-via = "pull-request": propose merge/vX-into-develop
    Stage("develop-pull-request", "steps.pull_request:OpenDevelopPullRequest"),
    # …and wait for its merge; then fetch develop
    Stage("develop-merged", "steps.pull_request:MergedDevelopPullRequest"),
    # hotfix: the branch is merged; remove it here and on the remote
    Stage("hotfix-branch-delete", "steps.hotfix:DeleteHotfixBranch"),
    # one buildx build per platform from the tag, own cache, pushed per platform
    Stage("build", "steps.build:BuildImages"),
    # dist/vX/barycenter-vX-linux-<arch>.tar.gz
    Stage("binaries", "steps.build:ExtractBinaries"),
    # dist/vX/SHA256SUMS, where every platform's archive is
    Stage("checksums", "steps.build:WriteChecksums"),
    # one multi-arch index: vX, and latest / X.Y / X where the policy says
    Stage("publish", "steps.publish:PublishIndex"),
    # SLSA provenance of the index and archives, signed with cosign
    Stage("attest", "steps.attest:AttestProvenance"),
    # the GitHub release: notes, pull line, archives, sums, provenance
    Stage("github", "steps.github:PublishGitHubRelease"),
    # the post-release checklist, read from reality
    Stage("verify", "steps.check_release:VerifyRelease"),
)

# Undoing a release (invoke release.rollback), in this order: what consumers see goes first.
ROLLBACK: tuple[Stage, ...] = (
    # the GitHub release (and its assets), so nobody downloads it
    Stage("github", "rollback:DeleteGitHubRelease"),
    # latest / X.Y / X back to the previous stable release, then vX deleted
    Stage("images", "rollback:RollBackImages"),
    # the tag here and on the remote; the release commit reverted on main
    Stage("git", "rollback:RevertGit"),
)

# Each task's stages, by step name; they always run in PIPELINE's order.
# The release merged back into develop: pushed, or through a pull request (release-via).
INTO_DEVELOP = ("merge-develop", "push-develop", "develop-pull-request", "develop-merged")
# The maintainer's part of a release: up to the tag push (what `invoke release --ci` runs).
UP_TO_THE_TAG = (
    "release-branch",
    "prepare",
    "pull-request",
    "merged",
    "tag",
    "push",
    *INTO_DEVELOP,
)
# What the workflow triggered by a pushed tag runs (and a hotfix rehearsal after finishing).
TAGGED = ("build", "binaries", "checksums", "publish", "attest", "github", "verify")
HOTFIX_FINISH = (
    "prepare",
    "pull-request",
    "merged",
    "merge-main",
    "tag",
    "push",
    *INTO_DEVELOP,
    "hotfix-branch-delete",
)

SLICES: dict[str, tuple[str, ...]] = {
    "release": (*UP_TO_THE_TAG, *TAGGED),
    "tagged": TAGGED,
    "release.ci": UP_TO_THE_TAG,
    # With release-via = "pull-request" these two refuse (in one line naming invoke release):
    # the release commit is proposed, and then found after its merge, by the whole release.
    "release.prepare": ("prepare",),
    "release.tag": ("tag", "push"),
    "release.build": ("build", "binaries", "checksums"),
    # CI: the job that downloads every platform's archive writes the one SHA256SUMS.
    "release.checksums": ("checksums",),
    "release.publish": ("publish",),
    "release.attest": ("attest",),
    "release.github": ("github",),
    "release.verify": ("verify",),
    "hotfix.start": ("hotfix-branch", "hotfix-branch-push"),
    "hotfix.finish": HOTFIX_FINISH,
}
# What release.status shows for each flow: every stage of the whole release.
STATUS = {"release": SLICES["release"], "hotfix": (*HOTFIX_FINISH, *TAGGED)}


def steps(stages: tuple[Stage, ...]) -> tuple[Step, ...]:
    """The stages' steps, in their order; only their own modules are imported."""
    return tuple(stage.step() for stage in stages)


def steps_of(names: tuple[str, ...]) -> tuple[Step, ...]:
    """The steps of PIPELINE's stages of these names, in PIPELINE's order."""
    unknown = set(names) - {stage.name for stage in PIPELINE}
    if unknown:
        raise ValueError(f"no such steps: {', '.join(sorted(unknown))}")
    return steps(tuple(stage for stage in PIPELINE if stage.name in names))
