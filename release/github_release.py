"""The GitHub release of a plan, read: its client (the configured repository and API, the
token from the environment), which release of the tag is kept, what its assets need, its state.

The one home of these reads: the github step acts on them; the checklist, the consumer checks,
rollback and release.ci read with them. The GitHub API itself is release.github's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from release.dist import file_sha256, parse_checksums
from release.steps import Say, Status

if TYPE_CHECKING:
    from release.github import GitHubClient, Release, ReleaseAsset, RetryPolicy
    from release.plan import Plan


def client(plan: Plan, say: Say | None = None, retry: RetryPolicy | None = None) -> GitHubClient:
    """A client of the plan's repository; githubkit (and its pydantic models) load here, when
    something talks to GitHub."""
    from release.github import GitHubClient, RetryPolicy

    retry = retry or RetryPolicy(max_wait=float(plan.config.github_max_wait))
    if say is None:
        return GitHubClient.from_environment(
            plan.config.github_repository, plan.config.github_api_url, retry=retry
        )
    return GitHubClient.from_environment(
        plan.config.github_repository, plan.config.github_api_url, say, retry
    )


def of_tag(client: GitHubClient, plan: Plan) -> list[Release]:
    """Every release (drafts too) of the plan's tag."""
    return [r for r in client.releases() if r.tag_name == plan.tag]


@dataclass
class AssetPlan:
    """What the assets of a release need: kept, uploaded, replaced (with why) and deleted."""

    keep: list[str] = field(default_factory=list)
    upload: list[str] = field(default_factory=list)
    replace: list[tuple[ReleaseAsset, str]] = field(default_factory=list)
    delete: list[ReleaseAsset] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.upload or self.replace or self.delete)


def notes_outdated(body: object, expected: dict[str, Path]) -> list[str]:
    """The assets whose sha256 the published notes list otherwise than their file in dist/ (an
    asset made again after publishing: a rerun's new keyless signature)."""
    listed = parse_checksums(body if isinstance(body, str) else "")  # githubkit's UNSET: none
    return [
        name
        for name, path in expected.items()
        if name in listed and path.is_file() and listed[name] != file_sha256(path)
    ]


def asset_plan(current: list[ReleaseAsset], expected: dict[str, Path]) -> AssetPlan:
    plan = AssetPlan()
    found = {asset.name: asset for asset in current}
    plan.delete = [asset for asset in current if asset.name not in expected]
    for name, path in expected.items():
        asset = found.get(name)
        if asset is None:
            plan.upload.append(name)
            continue
        if not path.is_file():
            # A clone that did not build the release has nothing to hold the asset against;
            # acting still needs the file (checksum_problems), and verify names its absence.
            plan.keep.append(name)
            continue
        size, digest = path.stat().st_size, f"sha256:{file_sha256(path)}"
        if asset.state != "uploaded":
            plan.replace.append((asset, f"partial upload, state {asset.state}"))
        elif asset.size != size:
            plan.replace.append((asset, f"{asset.size} bytes, the file has {size}"))
        elif asset.digest is not None and asset.digest != digest:
            plan.replace.append((asset, f"digest {asset.digest[:19]}…, the file's {digest[:19]}…"))
        else:
            plan.keep.append(name)
    return plan


def choose(releases: list[Release]) -> tuple[Release | None, list[Release]]:
    """The release to converge (the published one, else the draft with the most assets) and
    the surplus drafts of the same tag."""
    if not releases:
        return None, []
    kept = max(releases, key=lambda r: (not r.draft, len(r.assets), -r.id))
    return kept, [r for r in releases if r is not kept and r.draft]


def read_state(client: GitHubClient, plan: Plan) -> Status:
    """The release page's state: published, its assets those of the plan, whole."""
    kept, surplus = choose(of_tag(client, plan))
    if kept is None:
        return Status.todo(f"no GitHub release for {plan.tag}")
    assets = asset_plan(client.assets(kept.id), plan.assets)
    if surplus:
        return Status.todo(f"{len(surplus) + 1} releases for {plan.tag}, drafts among them")
    total = len(assets.keep) + len(assets.upload) + len(assets.replace)
    if kept.draft:
        return Status.todo(f"draft release {kept.id}: {len(assets.keep)} of {total} assets")
    if not assets.complete:
        return Status.todo(
            f"published, but {len(assets.upload)} assets missing, "
            f"{len(assets.replace)} different, {len(assets.delete)} unexpected"
        )
    return Status.done(f"published with {len(assets.keep)} assets: {kept.html_url}")
