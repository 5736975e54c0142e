"""The release, top to bottom: one ordered list of steps; every task runs a slice of it.

Read PIPELINE to know the release. Hotfix-only stages declare themselves "does not apply" to a
release, so the hotfix flow is the same list with its own first stages.
"""

from __future__ import annotations

from release.rollback import DeleteGitHubRelease, RevertGit, RollBackImages
from release.steps import Step
from release.steps.attest import AttestProvenance
from release.steps.build import BuildImages, ExtractBinaries, WriteChecksums
from release.steps.check_release import VerifyRelease
from release.steps.develop import MergeBackIntoDevelop, PushDevelop
from release.steps.github import PublishGitHubRelease
from release.steps.hotfix import (
    DeleteHotfixBranch,
    MergeIntoMain,
    PublishHotfixBranch,
    StartHotfix,
)
from release.steps.prepare import Prepare
from release.steps.publish import PublishIndex
from release.steps.pull_request import (
    MergedDevelopPullRequest,
    MergedPullRequest,
    OpenDevelopPullRequest,
    OpenPullRequest,
    StartReleaseBranch,
)
from release.steps.tag import Push, Tag

PIPELINE: tuple[Step, ...] = (
    StartHotfix(),  # hotfix: hotfix/X from the latest release of X's line
    PublishHotfixBranch(),  # hotfix, with --push: publish hotfix/X for review
    StartReleaseBranch(),  # release-via = "pull-request": release/vX from main
    Prepare(),  # bump Cargo.toml/Cargo.lock, finalize CHANGELOG.md, commit: one transaction
    OpenPullRequest(),  # release-via = "pull-request": push release/vX, open its pull request
    MergedPullRequest(),  # …and wait for its merge; then find the release commit on main
    MergeIntoMain(),  # hotfix: merge --no-ff into main (unless tagged on its own branch)
    Tag(),  # annotated tag vX carrying the release notes
    Push(),  # the branch and the tag in one atomic push (just the tag through a pull request)
    MergeBackIntoDevelop(),  # bring the release (a hotfix's CHANGELOG section too) into develop
    PushDevelop(),  # publish develop
    OpenDevelopPullRequest(),  # release-via = "pull-request": propose merge/vX-into-develop
    MergedDevelopPullRequest(),  # …and wait for its merge; then fetch develop
    DeleteHotfixBranch(),  # hotfix: the branch is merged; remove it here and on the remote
    BuildImages(),  # one buildx build per platform from the tag, own cache, pushed per platform
    ExtractBinaries(),  # dist/vX/barycenter-vX-linux-<arch>.tar.gz
    WriteChecksums(),  # dist/vX/SHA256SUMS, where every platform's archive is
    PublishIndex(),  # one multi-arch index: vX, and latest / X.Y / X where the policy says
    AttestProvenance(),  # SLSA provenance of the index and archives, signed with cosign
    PublishGitHubRelease(),  # the GitHub release: notes, pull line, archives, sums, provenance
    VerifyRelease(),  # the post-release checklist, read from reality
)

# Undoing a release (invoke release.rollback), in this order: what consumers see goes first.
ROLLBACK: tuple[Step, ...] = (
    DeleteGitHubRelease(),  # the GitHub release (and its assets), so nobody downloads it
    RollBackImages(),  # latest / X.Y / X back to the previous stable release, then vX deleted
    RevertGit(),  # the tag here and on the remote; the release commit reverted on main
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


def steps_of(names: tuple[str, ...]) -> tuple[Step, ...]:
    unknown = set(names) - {step.name for step in PIPELINE}
    if unknown:
        raise ValueError(f"no such steps: {', '.join(sorted(unknown))}")
    return tuple(step for step in PIPELINE if step.name in names)
