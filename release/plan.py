"""Decide the release once: `make_plan` reads the repository, the configuration, the options and
the remote, and returns a frozen Plan that every step works from.

A rerun after a failure plans again from a repository that earlier steps may have changed, so
each decision here is read from what those steps cannot have changed yet (the remote's branch
before our push, the tag once it exists), never from our own partial work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import semver

from release.bump import rules_of
from release.config import ReleaseConfig, check_image_repository, load_config
from release.dist import release_assets
from release.errors import ReleaseError
from release.git import GitError, GitRepo, RemoteState
from release.history import Range, Release, previous_release, read_commits
from release.image_tags import image_tags, successors
from release.images import arch_of
from release.options import HotfixOptions as HotfixOptions
from release.options import ReleaseOptions as ReleaseOptions
from release.release_tag import since_release, stray_tag
from release.version import hotfix_base, parse_version, release_versions, tag_name

Flow = Literal["release", "hotfix"]


@dataclass(frozen=True)
class Plan:
    repo: GitRepo = field(repr=False, compare=False)
    config: ReleaseConfig
    flow: Flow
    # The step names this run executes (a hotfix's start and finish plan its base apart).
    stages: frozenset[str]
    version: semver.Version
    tag: str
    # The release X's notes and CHANGELOG section count from (history.previous_release over
    # the releases below the range's tip), and its tag's commit: the range is
    # previous_commit..tip, decided here once for prepare, tag and github alike.
    previous: semver.Version | None
    previous_commit: str | None
    today: date
    # The release commit's time: the tag's commit time once it exists, else this plan's time,
    # which the release commit is made with. SOURCE_DATE_EPOCH and the `created` label.
    epoch: int
    # The tag's commit, once the tag exists here or on the remote.
    revision: str | None
    remote: str
    release_branch: str
    # The branch the release commit is made on: the release branch, or hotfix/X.
    commit_branch: str
    # The branch whose tip the tag marks and which is pushed with it.
    tag_branch: str
    commit_message: str
    develop_branch: str | None
    image: str
    platforms: tuple[str, ...]
    # vX, and latest / X.Y / X where image_tags.image_tags gives them, over the releases
    # known when planning. A step that moves or reads them re-plans them visibly first
    # (runner.recheck_image_tags): another clone may have released a higher version since.
    image_tags: tuple[str, ...]
    # Rollback: each floating tag X holds -> the release tag it goes back to (None: removed).
    rollback_successors: tuple[tuple[str, str | None], ...]
    dry_run: bool
    sign: bool
    # A hotfix's: the release it patches, and hotfix/X. A release has neither.
    hotfix_base: semver.Version | None = None
    hotfix_branch: str | None = None
    # Commits hotfix/X shares with main or develop that its base tag lacks (`%h %s`).
    hotfix_foreign: tuple[str, ...] = ()
    allow_empty: bool = False
    move_version_tag: bool = False
    push_hotfix_branch: bool = False
    keep_branch: bool = False
    # When something named vX, here or on the remote, is not the release of X: the one line
    # every step whose state reads the tag refuses with (release/release_tag.py decides it).
    stray_tag: str | None = None
    # When vX is X's release: its release commit and the unreleased commits that followed it,
    # for "already done".
    released: str = ""

    @property
    def makes_latest(self) -> bool:
        """X gets the `latest` image tag, and so becomes GitHub's latest release."""
        return "latest" in self.image_tags

    @property
    def via_pull_request(self) -> bool:
        """The release commit reaches the release branch through a pull request, from
        release/vX (a hotfix's: from hotfix/X, instead of merge-main's merge), and is tagged
        once merged (release-via = "pull-request"). Not a hotfix tagged on its own branch,
        which never reaches main."""
        return self.config.release_via == "pull-request" and (
            self.flow == "release" or self.tag_branch == self.release_branch
        )

    @property
    def develop_merge_branch(self) -> str | None:
        """With release-via = "pull-request" develop is protected too: the release is merged
        into this branch, made from the remote's develop, and proposed into develop by a pull
        request. None where develop takes the merge by a push, or there is no develop."""
        if self.develop_branch is None or self.config.release_via != "pull-request":
            return None
        return f"merge/{self.tag}-into-{self.develop_branch}"

    @property
    def tag_problems(self) -> list[str]:
        """The refusal of a stray vX, for the checks of every step that trusts the tag."""
        return [self.stray_tag] if self.stray_tag else []

    @property
    def rerun(self) -> str:
        """The command that continues this release where it stopped."""
        if self.flow == "hotfix":
            return f"invoke hotfix.finish --version {self.version}"
        return f"invoke release --version {self.version}"

    @property
    def root(self) -> Path:
        return self.repo.root

    @property
    def created(self) -> str:
        return datetime.fromtimestamp(self.epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def dist(self) -> Path:
        """This release's own directory in dist/: one release's SHA256SUMS never covers, nor
        overwrites, another's."""
        return self.config.dist_path / self.tag

    def archive(self, platform: str) -> str:
        return f"barycenter-{self.tag}-linux-{arch_of(platform)}.tar.gz"

    @property
    def archives(self) -> tuple[str, ...]:
        return tuple(self.archive(p) for p in self.config.platforms)

    @property
    def assets(self) -> dict[str, Path]:
        """The GitHub release's assets, name -> file in dist/vX/ (dist.release_assets)."""
        return {name: self.dist / name for name in release_assets(self.tag, self.archives)}

    def platform_image(self, platform: str) -> str:
        """The per-platform reference the index is assembled from."""
        return f"{self.image}:{self.tag}-{arch_of(platform)}"

    @property
    def base_tag(self) -> str:
        if self.hotfix_base is None:
            raise ReleaseError("this plan is not a hotfix's", "plan it with the hotfix flow")
        return tag_name(self.hotfix_base)


@dataclass(frozen=True)
class Facts:
    """What planning reads of the tags and the remote, read once by `read_facts`."""

    local_tags: frozenset[str]
    remote: RemoteState

    @property
    def tags(self) -> set[str]:
        """Every tag, here or on the remote."""
        return set(self.local_tags) | set(self.remote.tags)


def read_facts(repo: GitRepo, remote: str) -> Facts:
    return Facts(frozenset(repo.tags()), repo.remote_state(remote))


def all_tags(repo: GitRepo, remote: RemoteState) -> set[str]:
    return set(repo.tags()) | set(remote.tags)


def tag_commit(repo: GitRepo, remote: RemoteState, tag: str) -> str | None:
    return repo.tag_target(tag) or remote.tags.get(tag)


def commit_epoch(repo: GitRepo, commit: str | None) -> int:
    if commit is not None and repo.has_object(commit):
        return repo.commit_time(commit)
    return int(time.time())


def reachable(repo: GitRepo, ref: str) -> list[semver.Version]:
    if repo.rev(ref) is None:
        return []
    return release_versions(repo.tags_merged_into(ref))


def release_ref(repo: GitRepo, remote: RemoteState, branch: str) -> str:
    """What a release is judged against: the local branch, else the remote's, else HEAD."""
    if repo.rev(f"refs/heads/{branch}") is not None:
        return f"refs/heads/{branch}"
    upstream = remote.heads.get(branch)
    if upstream and repo.has_object(upstream):
        return upstream
    return "HEAD"


def published_image_tags(
    version: semver.Version, tags: set[str], floating: bool
) -> tuple[str, ...]:
    return tuple(image_tags(version, release_versions(tags | {tag_name(version)}), floating))


def rollback_successors(
    version: semver.Version, tags: set[str], floating: bool
) -> tuple[tuple[str, str | None], ...]:
    held = published_image_tags(version, tags, floating)
    others = [v for v in release_versions(tags) if v != version]
    return tuple(
        (t, tag_name(v) if v is not None else None)
        for t, v in successors(version, others, held[1:]).items()
    )


def with_image_tags_of(plan: Plan, facts: Facts) -> tuple[Plan, str | None]:
    """The plan with its image tags decided again over `facts` (the remote as it stands now),
    and the line saying what moved, None when nothing did."""
    tags = facts.tags
    decided = published_image_tags(plan.version, tags, plan.config.floating_tags)
    if decided == plan.image_tags:
        return plan, None
    newer = sorted((v for v in release_versions(tags) if v > plan.version), reverse=True)
    why = f" ({tag_name(newer[0])} was released meanwhile)" if newer else ""
    line = (
        f"the tags moved since planning{why}: {plan.tag} now gets "
        f"{', '.join(decided)} (planned: {', '.join(plan.image_tags)})"
    )
    replanned = replace(
        plan,
        image_tags=decided,
        rollback_successors=rollback_successors(plan.version, tags, plan.config.floating_tags),
    )
    return replanned, line


def notes_range(plan: Plan, tip: str) -> Range:
    """The commits X releases, from the plan's previous release to `tip` (the release commit,
    the branch it is made on, or the tag)."""
    previous = (
        Release(plan.previous, plan.previous_commit, "", tag_name(plan.previous))
        if plan.previous is not None and plan.previous_commit is not None
        else None
    )
    exclude = [f"^{plan.previous_commit}"] if plan.previous_commit else []
    this = Release(plan.version, tip, "", plan.tag)
    return Range(this, previous, read_commits(plan.root, tip, *exclude))


def make_plan(
    root: Path,
    options: ReleaseOptions | HotfixOptions,
    stages: frozenset[str],
    config: ReleaseConfig | None = None,
) -> Plan:
    version = parse_version(options.version)
    repo = GitRepo(root)
    config = config or load_config(repo.root)
    if config.tag_prefix != "v":
        raise ReleaseError(
            f"tag-prefix = {config.tag_prefix!r}: releases are made with v-prefixed tags only; "
            "tag-prefix applies to reading notes and changelogs",
            'remove tag-prefix (or set it to "v") to release with this tool',
        )
    image = options.image or config.image
    if options.image:
        check_image_repository(options.image, "--image")
    facts = read_facts(repo, config.remote)
    remote = facts.remote
    tags = facts.tags
    tag = tag_name(version)
    revision = tag_commit(repo, remote, tag)
    message = config.release_commit_message(version)
    hotfix = f"hotfix/{version}"
    # A hotfix's tag may mark hotfix/X (an older line), whichever flow reads it later.
    belongs = config.release_branch
    if isinstance(options, HotfixOptions):
        belongs = f"{config.release_branch} or {hotfix}"
    stray = stray_tag(
        repo, remote, config.remote, version, message, (config.release_branch, hotfix), belongs
    )
    common = {
        "repo": repo,
        "config": config,
        "stages": stages,
        "version": version,
        "tag": tag,
        "today": datetime.now(UTC).date(),
        "epoch": commit_epoch(repo, revision),
        "revision": revision,
        "remote": config.remote,
        "release_branch": config.release_branch,
        "commit_message": message,
        "stray_tag": stray,
        "image": image,
        "image_tags": published_image_tags(version, tags, config.floating_tags),
        "rollback_successors": rollback_successors(version, tags, config.floating_tags),
        "dry_run": options.dry_run,
        "sign": options.sign,
        "develop_branch": develop_branch(repo, remote, config),
    }
    if isinstance(options, ReleaseOptions):
        platforms = config.platforms
        if options.platform:
            if options.platform not in config.platforms:
                raise ReleaseError(
                    f"platform {options.platform} is not configured",
                    f"use one of {', '.join(config.platforms)}",
                )
            platforms = (options.platform,)
        base = release_ref(repo, remote, config.release_branch)
        released = ""
        if revision is not None and stray is None and repo.has_object(revision):
            released = since_release(
                repo, version, revision, base, config.release_branch, rules_of(config)
            )
        previous, previous_commit = previous_of(
            repo, remote, version, range_tip(repo, revision, base)
        )
        return Plan(
            flow="release",
            previous=previous,
            previous_commit=previous_commit,
            # Through a pull request the release commit is made on its own branch.
            commit_branch=(
                f"release/{tag}" if config.release_via == "pull-request" else config.release_branch
            ),
            tag_branch=config.release_branch,
            platforms=platforms,
            allow_empty=options.allow_empty,
            move_version_tag=options.move_version_tag,
            released=released,
            **common,  # type: ignore[arg-type]
        )
    # Starting a hotfix whose tag exists is refused; finishing one resumes past its own tag.
    known = tags if "hotfix-branch" in stages else tags - {tag}
    base_version = hotfix_base(version, known, options.skip_patches)
    branch = hotfix
    on_branch = tags_on_hotfix_branch(repo, remote, config, version, revision, branch)
    tag_branch = branch if on_branch else config.release_branch
    released = ""
    if revision is not None and stray is None and repo.has_object(revision):
        released = since_release(
            repo, version, revision, f"refs/heads/{tag_branch}", tag_branch, rules_of(config)
        )
    foreign = (
        hotfix_foreign_commits(repo, remote, config, branch, tag_name(base_version))
        if revision is None
        else ()
    )
    return Plan(
        flow="hotfix",
        previous=base_version,
        previous_commit=release_commit_of(repo, remote, base_version),
        commit_branch=branch,
        tag_branch=tag_branch,
        released=released,
        hotfix_base=base_version,
        hotfix_branch=branch,
        hotfix_foreign=foreign,
        platforms=config.platforms,
        push_hotfix_branch=options.push_branch,
        keep_branch=options.keep_branch,
        **common,  # type: ignore[arg-type]
    )


def range_tip(repo: GitRepo, revision: str | None, base: str) -> str:
    """Where X's notes range ends when planning: X's tag once it exists here, else the branch
    the release commit is made on (the release commit adds no tag below X)."""
    if revision is not None and repo.has_object(revision):
        return revision
    return base


def previous_of(
    repo: GitRepo, remote: RemoteState, version: semver.Version, tip: str
) -> tuple[semver.Version | None, str | None]:
    """The release X's range starts from, among the releases below `tip`, and its commit."""
    previous = previous_release(version, [v for v in reachable(repo, tip) if v != version])
    return previous, release_commit_of(repo, remote, previous)


def release_commit_of(
    repo: GitRepo, remote: RemoteState, version: semver.Version | None
) -> str | None:
    return None if version is None else tag_commit(repo, remote, tag_name(version))


def develop_branch(repo: GitRepo, remote: RemoteState, config: ReleaseConfig) -> str | None:
    develop = config.develop_branch
    if develop and (develop in repo.branches() or develop in remote.heads):
        return develop
    return None


def unreleased_commits(repo: GitRepo, main: str) -> list[str]:
    """Commits on `main` that are in no release tag: main should hold released code only."""
    releases = [tag_name(v) for v in release_versions(repo.tags())]
    output = repo.output(
        "rev-list", "--format=%h %s", "--no-commit-header", main, "--not", *releases, "--"
    )
    return [line for line in output.splitlines() if line]


def hotfix_foreign_commits(
    repo: GitRepo, remote: RemoteState, config: ReleaseConfig, branch: str, base_tag: str
) -> tuple[str, ...]:
    """The commits of `branch` beyond its base tag that main or develop carried (here, or on
    the remote, which the hotfix's merges reach only with its tag): work of later releases or
    of none, which a patch must not ship. None for a branch made by `invoke hotfix` from its
    base tag, whatever fixes it holds. What both reach is what their merge bases reach."""
    tip = repo.rev(f"refs/heads/{branch}")
    if tip is None or repo.tag_target(base_tag) is None:
        return ()
    others: dict[str, None] = {}
    for name in (config.release_branch, config.develop_branch):
        if not name:
            continue
        for other in (remote.heads.get(name), repo.rev(f"refs/heads/{name}")):
            if other is not None and repo.has_object(other):
                others[other] = None
    found: dict[str, None] = {}
    for other in others:
        try:
            bases = repo.output("merge-base", "--all", tip, other).split()
        except GitError:  # exit 1: no common commit at all
            continue
        listed = repo.output(
            "rev-list",
            "--format=%h %s",
            "--no-commit-header",
            *bases,
            "--not",
            f"refs/tags/{base_tag}",
            "--",
        )
        found.update(dict.fromkeys(line for line in listed.splitlines() if line))
    return tuple(found)


def main_before_hotfix(repo: GitRepo, remote: RemoteState, main: str) -> str | None:
    """main as it was before this hotfix touched it: the remote's tip (our merge is pushed only
    with the tag), else the local branch."""
    upstream = remote.heads.get(main)
    if upstream and repo.has_object(upstream):
        return upstream
    return repo.rev(f"refs/heads/{main}")


def tags_on_hotfix_branch(
    repo: GitRepo,
    remote: RemoteState,
    config: ReleaseConfig,
    version: semver.Version,
    revision: str | None,
    branch: str,
) -> bool:
    """Whether the hotfix is tagged on its branch and main left alone: an older line (main has
    a newer release), or, with hotfix-tag-on-branch, a main carrying unreleased work."""
    main = main_before_hotfix(repo, remote, config.release_branch)
    if revision is not None and main is not None and repo.has_object(revision):
        local_main = repo.rev(f"refs/heads/{config.release_branch}") or main
        # Through a pull request the tag is on the remote's main, which the local one may lag.
        upstream = remote.heads.get(config.release_branch)
        mains = [local_main, *([upstream] if upstream and repo.has_object(upstream) else [])]
        return not any(repo.is_ancestor(revision, tip) for tip in mains)
    if main is None:
        return True
    if max(reachable(repo, main), default=version) > version:
        return True
    return config.hotfix_tag_on_branch and bool(unreleased_commits(repo, main))


def tagged_commit(plan: Plan) -> str | None:
    """The tag's commit, read now: an earlier step of this run may have made the tag."""
    return plan.repo.tag_target(plan.tag) or plan.revision
