"""Whether a tag named vX is the release of X, or only a tag that bears its name.

A tag that exists is not yet a release. vX is the release of X when it is annotated and marks a
commit on the release branch (or on hotfix/X, for a hotfix tagged on its branch) whose
Cargo.toml and Cargo.lock say X, whose CHANGELOG.md has X's section, and which is the release
commit itself or the merge that brought it (a hotfix merged into main). `not_a_release` decides
that from facts alone (no I/O, tested as a table); `read_tag` reads those facts from git, here
and on the remote; `refusal` says it in one line. The plan holds the answer, decided once, and
every step whose state reads the tag refuses with that line before anything acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import semver

from release.git import GitError, GitRepo, RemoteState
from release.version import tag_name

if TYPE_CHECKING:
    from release.bump import BumpRules


@dataclass(frozen=True)
class TaggedCommit:
    """What one ref named vX marks, read from git: the facts `not_a_release` judges."""

    # "here", "on origin", or "here and on origin" when both name the same tag object.
    where: str
    commit: str
    annotated: bool
    # The commit is on the release branch (or on hotfix/X), here or on the remote; None when
    # it is on none here and the remote's tip of one of them is not fetched, so none can tell.
    on_branch: bool | None
    # The version its Cargo.toml declares; None when it has none or no Cargo.toml.
    manifest_version: str | None
    # The versions its Cargo.lock gives the crate (empty: no Cargo.lock committed).
    lock_versions: tuple[str, ...]
    # Its CHANGELOG.md has a `## [X]` section.
    changelog_section: bool
    subject: str
    # A merge commit's second parent's subject (the branch it merged), else None.
    merged_subject: str | None = None


def not_a_release(
    tagged: TaggedCommit, version: semver.Version, message: str, branches: str
) -> str | None:
    """Why `tagged` is not the release of `version`, or None when it is. `message` is the release
    commit message; `branches` names where the release commit belongs, for people."""
    title = message.splitlines()[0]
    if not tagged.annotated:
        return "a lightweight tag"
    if tagged.on_branch is None:
        return f"not on {branches} here, and the remote's {branches} is not fetched"
    if not tagged.on_branch:
        return f"not on {branches}"
    if tagged.manifest_version != str(version):
        said = tagged.manifest_version or "no version"
        return f"its Cargo.toml says {said}"
    wrong_lock = sorted(set(tagged.lock_versions) - {str(version)})
    if wrong_lock:
        return f"its Cargo.lock says {wrong_lock[0]}"
    merged = tagged.merged_subject is not None and title in tagged.merged_subject
    if title not in tagged.subject and not merged:
        return f"not the release commit: its subject is {tagged.subject!r}"
    if not tagged.changelog_section:
        return f"its CHANGELOG.md has no [{version}] section"
    return None


def refusal(tag: str, tagged: TaggedCommit, reason: str, remote: str, version: str) -> str:
    """The one line a stray vX is refused with: the tag, the commit it marks, why, the fix."""
    if tagged.on_branch is None:
        return (
            f"tag {tag} {tagged.where} marks {tagged.commit[:12]}, which may not be the release "
            f"of {version} ({reason}): git fetch {remote}, then run the same command again"
        )
    deletions = []
    if tagged.where.startswith("here"):
        deletions.append(f"git tag -d {tag}")
    if tagged.where.endswith(f"on {remote}"):
        deletions.append(f"git push {remote} :refs/tags/{tag}")
    return (
        f"tag {tag} {tagged.where} marks {tagged.commit[:12]}, which is not the release of "
        f"{version} ({reason}): delete it ({' && '.join(deletions)}), or release another version"
    )


def read_tag(
    repo: GitRepo,
    remote: RemoteState,
    remote_name: str,
    version: semver.Version,
    branches: tuple[str, ...],
) -> list[TaggedCommit]:
    """The facts of vX here and on the remote (one entry when both name the same tag object).
    A tag on the remote whose commit is not fetched here cannot be read, and is left out."""
    tag = tag_name(version)
    local_object = repo.tag_object(tag)
    remote_object = remote.tag_objects.get(tag)
    found: list[tuple[str, str, bool]] = []  # where, commit, annotated
    if local_object is not None:
        commit = repo.tag_target(tag)
        where = "here" if remote_object != local_object else f"here and on {remote_name}"
        if commit is not None:
            found.append((where, commit, repo.tag_is_annotated(tag)))
    if remote_object is not None and remote_object != local_object:
        commit = remote.tags.get(tag, remote_object)
        if repo.has_object(commit):
            found.append((f"on {remote_name}", commit, commit != remote_object))
    tips = [
        sha
        for branch in branches
        for sha in (repo.rev(f"refs/heads/{branch}"), remote.heads.get(branch))
        if sha is not None
    ]
    return [
        facts_of(repo, version, where, commit, annotated, tips)
        for where, commit, annotated in found
    ]


def facts_of(
    repo: GitRepo,
    version: semver.Version,
    where: str,
    commit: str,
    annotated: bool,
    tips: list[str],
) -> TaggedCommit:
    from release import cargo, changelog

    manifest = repo.file_at(commit, "Cargo.toml")
    declared: str | None = None
    name: str | None = None
    if manifest is not None:
        try:
            declared = cargo.version_in_manifest(manifest)
            name = cargo.package_name(manifest)
        except Exception:  # an unreadable Cargo.toml declares nothing
            declared = None
    lock = repo.file_at(commit, "Cargo.lock")
    locked: tuple[str, ...] = ()
    if lock is not None and name is not None:
        try:
            locked = cargo.locked_versions(lock, name)
        except Exception:  # an unreadable Cargo.lock says no version
            locked = ("none",)
    log = repo.file_at(commit, "CHANGELOG.md")
    try:
        lines = repo.output("log", "-1", "--format=%s%n%P", commit).split("\n")
    except GitError:
        lines = ["", ""]
    subject, parents = lines[0], (lines[1].split() if len(lines) > 1 else [])
    merged = None
    if len(parents) == 2:
        merged = repo.output("log", "-1", "--format=%s", parents[1])
    return TaggedCommit(
        where=where,
        commit=commit,
        annotated=annotated,
        on_branch=on_branch(repo, commit, tips),
        manifest_version=declared,
        lock_versions=locked,
        changelog_section=log is not None and changelog.has_release(log, version),
        subject=subject,
        merged_subject=merged,
    )


def stray_tag(
    repo: GitRepo,
    remote: RemoteState,
    remote_name: str,
    version: semver.Version,
    message: str,
    branches: tuple[str, ...],
    belongs: str,
) -> str | None:
    """The refusal line when something named vX, here or on the remote, is not X's release.
    `branches` are where its commit may be (the release branch, hotfix/X); `belongs` says
    where it belongs, for people."""
    for tagged in read_tag(repo, remote, remote_name, version, branches):
        reason = not_a_release(tagged, version, message, belongs)
        if reason is not None:
            return refusal(tag_name(version), tagged, reason, remote_name, str(version))
    return None


def on_branch(repo: GitRepo, commit: str, tips: list[str]) -> bool | None:
    """`commit` is in the history of one of `tips`; None when it is in none that is here and
    some tip (the remote's) is not fetched."""
    present = [tip for tip in tips if repo.has_object(tip)]
    if any(repo.is_ancestor(commit, tip) for tip in present):
        return True
    return None if len(present) < len(tips) else False


def followed(commit: str, count: int, branch: str, after: semver.Version) -> str:
    """What "already done" adds about the release commit when commits followed it."""
    if count == 0:
        return ""
    those = "1 commit" if count == 1 else f"{count} commits"
    verb = "is" if count == 1 else "are"
    return (
        f"the release commit {commit[:12]}, followed by {those} on {branch} that {verb} "
        f"unreleased and would make {after}"
    )


def since_release(
    repo: GitRepo,
    version: semver.Version,
    commit: str,
    ref: str,
    branch: str,
    rules: BumpRules | None = None,
) -> str:
    """`followed` for the commits on `ref` after the release commit, merges left out; the
    version they would make is the one `invoke release` would propose (release/bump.py)."""
    from release.bump import BumpRules, next_release
    from release.history import read_commits

    if repo.rev(ref) is None or not repo.is_ancestor(commit, ref):
        return followed(commit, 0, branch, version)
    commits = read_commits(repo.root, ref, f"^{commit}")
    after = next_release([version], commits, commits, None, rules=rules or BumpRules()).version
    return followed(commit, len(commits), branch, after)
