"""release.github: the GitHub release of vX, converged from whatever a failed run left.

1. Find the release of the tag, drafts included (GET /releases/tags/{tag} skips drafts, so the
   releases are listed). Drafts do not reserve a tag on GitHub: should several exist, the one
   with the most assets is kept and the other drafts deleted. A published one is never deleted.
2. None: create it as a draft. Name: the tag. Body: the release notes and the image's pull line
   with the index digest. `prerelease` from SemVer.
3. Assets. The plan's exact list (dist.release_assets), read from dist/vX/: the per-platform
   archives, SHA256SUMS and the provenance bundle `barycenter-{tag}.provenance.sigstore.json`.
   An asset already there, uploaded, with the same size and digest is kept (GitHub's `digest`;
   an Enterprise Server that gives none is matched by size). A partial (state `open`) or
   different one is deleted and uploaded again; one outside the expected set is deleted.
4. Publish: draft=false, `make_latest` "true" exactly when the version gets the `latest` image
   tag (the highest stable release), else "false": a hotfix of an older line or a pre-release
   never becomes the latest release.

`state` reads GitHub alone: done when a published release of the tag holds exactly the expected
assets, each matching its file in dist/. A rerun after any failure gives one release, each
asset once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from release import github_release, registry
from release.dist import CHECKSUMS, file_sha256, provenance_bundle, read_checksums
from release.errors import ReleaseError
from release.notes import from_range, groups_of, markdown
from release.steps import CHECKSUMS_FILE, INDEX, PROVENANCE, Need, Say, Status, Step, checks

if TYPE_CHECKING:
    from release.github import GitHubClient, MakeLatest, RetryPolicy
    from release.plan import Plan

IndexDigest = Callable[["Plan"], "str | None"]


def registry_index_digest(plan: Plan) -> str | None:
    """The digest of the published multi-arch index IMAGE:vX, None when it is not there."""
    found = registry.manifest(
        f"{plan.image}:{plan.tag}",
        registry.login_hint(plan.config),
        timeout=plan.config.registry_timeout,
    )
    return None if found is None else str(found["digest"])


def expected_assets(plan: Plan) -> dict[str, Path]:
    """Asset name -> file in dist/: the plan's list."""
    return plan.assets


def size_of(path: Path) -> str:
    """For a dry run: a file an earlier step of the run makes may not exist yet."""
    return f"{path.stat().st_size} bytes" if path.is_file() else "made by an earlier step"


def make_latest(plan: Plan) -> MakeLatest:
    return "true" if plan.makes_latest else "false"


def is_prerelease(plan: Plan) -> bool:
    return plan.version.prerelease is not None


def pull_line(plan: Plan, digest: str) -> str:
    return f"docker pull {plan.image}:{plan.tag}@{digest}"


def checksum_lines(plan: Plan) -> list[str]:
    """`sha256  name` for each asset in dist/, as sha256sum writes it: the body then records
    every asset's digest where a later swap of the asset (or of SHA256SUMS) cannot reach."""
    return [
        f"{file_sha256(path)}  {name}"
        for name, path in expected_assets(plan).items()
        if path.is_file()
    ]


def release_body(plan: Plan, digest: str, say: Say) -> str:
    """The release notes (naming people where credit-people-in says "github"), then the
    image to pull and the assets' checksums."""
    from release.credits import people_for
    from release.plan import notes_range, tagged_commit

    tip = tagged_commit(plan) or plan.tag
    found = from_range(notes_range(plan, tip), groups_of(plan.config))
    people = people_for(plan.root, found, plan.config, "github", say, tip=tip)
    notes = markdown(found, plan.config.source_url, people)
    sums = "\n".join(checksum_lines(plan))
    return (
        f"{notes.rstrip()}\n\n"
        "## Container image\n\n"
        f"```\n{pull_line(plan, digest)}\n```\n\n"
        f"Linux binaries for {', '.join(plan.config.platforms)} are attached, "
        f"with their sha256 in {CHECKSUMS}.\n\n"
        "## Checksums (sha256)\n\n"
        f"```\n{sums}\n```\n"
    )


def bundle_problems(plan: Plan) -> list[str]:
    """The provenance bundle is an asset: without this run's attest step it must be there."""
    bundle = plan.dist / provenance_bundle(plan.tag)
    if bundle.is_file():
        return []
    return [
        f"{bundle} is missing: run invoke release.attest --version {plan.version} (in GitHub "
        "Actions without the key, the workflow's attest job writes it)"
    ]


def checksum_problems(plan: Plan) -> list[str]:
    """Each archive present, listed in SHA256SUMS with its own sha256."""
    build = f"run invoke release.build --version {plan.version}"
    sums = f"run invoke release.checksums --version {plan.version}"
    problems = [
        f"{plan.dist / name} is missing: {sums if name == CHECKSUMS else build}"
        for name in (*plan.archives, CHECKSUMS)
        if not (plan.dist / name).is_file()
    ]
    if problems:
        return problems
    listed = read_checksums(plan.dist / CHECKSUMS)
    for name in plan.archives:
        actual = file_sha256(plan.dist / name)
        if listed.get(name) != actual:
            problems.append(
                f"{plan.dist / CHECKSUMS} does not hold {name}'s sha256 {actual[:12]}…: {sums}"
            )
    return problems


class PublishGitHubRelease(Step):
    name = "github"
    reads_image_tags = True
    title = "GitHub release: notes and image digest, archives, SHA256SUMS, provenance; publish"

    def __init__(
        self, retry: RetryPolicy | None = None, index_digest: IndexDigest | None = None
    ) -> None:
        # Tests and rehearsals may shorten the waits; the index digest comes from the registry.
        self.retry = retry
        self.index_digest = index_digest or registry_index_digest

    def client(self, plan: Plan, say: Say | None = None) -> GitHubClient:
        return github_release.client(plan, say, self.retry)

    # The four questions

    def check(self, plan: Plan) -> list[str]:
        from release.github_token import token_from_environment

        problems = []
        repository = plan.config.github_repository
        if token_from_environment() is None:
            problems.append(
                "GITHUB_TOKEN and GH_TOKEN are unset: "
                f"export one with a token that has contents: write on {repository}"
            )
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            problems.append(
                f"github-repository '{repository}' is not owner/name: "
                "set it in [tool.barycenter.release]"
            )
        return problems

    def needs(self) -> tuple[Need, ...]:
        return (
            Need(CHECKSUMS_FILE, checksum_problems),
            Need(INDEX, self.index_problems),
            Need(PROVENANCE, bundle_problems),
        )

    @checks.reading
    def index_problems(self, plan: Plan) -> list[str]:
        if self.index_digest(plan) is None:
            return [
                f"{plan.image}:{plan.tag} is not in the registry, and the release body "
                f"names its digest: run invoke release.publish --version {plan.version}"
            ]
        return []

    def state(self, plan: Plan) -> Status:
        with self.client(plan) as client:
            return self.read_state(client, plan)

    def read_state(self, client: GitHubClient, plan: Plan) -> Status:
        return github_release.read_state(client, plan)

    def describe(self, plan: Plan) -> list[str]:
        from release.github_token import token_from_environment

        if token_from_environment() is None:
            return self.actions(None, plan)
        with self.client(plan) as client:
            return self.actions(client, plan)

    def actions(self, client: GitHubClient | None, plan: Plan) -> list[str]:
        expected = expected_assets(plan)
        latest = make_latest(plan)
        where = f"{plan.config.github_repository} ({plan.config.github_api_url})"
        kept, surplus = (
            github_release.choose(github_release.of_tag(client, plan)) if client else (None, [])
        )
        lines = [f"delete surplus draft release {r.id} of {plan.tag}" for r in surplus]
        if kept is None or client is None:
            prerelease = "yes" if is_prerelease(plan) else "no"
            lines.append(
                f"create draft release {plan.tag} on {where}: name {plan.tag}, "
                f"prerelease {prerelease}, body: release notes + docker pull "
                f"{plan.image}:{plan.tag}@<index digest>"
            )
            assets = github_release.AssetPlan(upload=list(expected))
        else:
            assets = github_release.asset_plan(client.assets(kept.id), expected)
        lines += [f"delete asset {a.name} (not part of {plan.tag})" for a in assets.delete]
        lines += [f"replace asset {a.name} ({why})" for a, why in assets.replace]
        lines += [f"upload {name} ({size_of(expected[name])})" for name in assets.upload]
        if kept is not None and not kept.draft:
            outdated = github_release.notes_outdated(kept.body, expected)
            if outdated:
                lines.append(f"update the notes of {plan.tag}: the sha256 of {', '.join(outdated)}")
        if kept is None or kept.draft:
            lines.append(f"publish {plan.tag} (make_latest: {latest})")
        return lines

    def run(self, plan: Plan, say: Say) -> None:
        digest = self.index_digest(plan)
        if digest is None:
            raise ReleaseError(
                f"{plan.image}:{plan.tag} is not in the registry",
                f"run invoke release.publish --version {plan.version} first",
            )
        with self.client(plan, say) as client:
            self.converge(client, plan, digest, say)

    def converge(self, client: GitHubClient, plan: Plan, digest: str, say: Say) -> None:
        body = release_body(plan, digest, say)
        prerelease = is_prerelease(plan)
        kept, surplus = github_release.choose(github_release.of_tag(client, plan))
        for draft in surplus:
            say(f"  delete surplus draft release {draft.id} of {plan.tag}")
            client.delete_release(draft.id)
        if kept is None:
            say(f"  create draft release {plan.tag} on {plan.config.github_repository}")
            kept = client.create_release(plan.tag, plan.tag, body, prerelease, draft=True)
        elif kept.draft and (kept.name, kept.body, kept.prerelease) != (
            plan.tag,
            body,
            prerelease,
        ):
            say(f"  update draft release {kept.id}: name, notes and prerelease flag")
            kept = client.update_release(kept.id, name=plan.tag, body=body, prerelease=prerelease)
        expected = expected_assets(plan)
        assets = github_release.asset_plan(client.assets(kept.id), expected)
        for asset in assets.delete:
            say(f"  delete asset {asset.name} (not part of {plan.tag})")
            client.delete_asset(asset.id)
        for asset, why in assets.replace:
            say(f"  replace asset {asset.name} ({why})")
            client.delete_asset(asset.id)
            client.upload_asset(kept, expected[asset.name])
        for name in assets.upload:
            say(f"  upload {name} ({expected[name].stat().st_size} bytes)")
            client.upload_asset(kept, expected[name])
        # A published release's notes list each asset's sha256: an asset made again (a rerun's
        # new keyless signature of the same provenance) is listed anew with it.
        outdated = github_release.notes_outdated(kept.body, expected)
        if not kept.draft and outdated:
            say(f"  update the notes of {plan.tag}: the sha256 of {', '.join(outdated)}")
            kept = client.update_release(kept.id, body=body)
        if kept.draft:
            latest = make_latest(plan)
            say(f"  publish {plan.tag} (make_latest: {latest})")
            kept = client.update_release(
                kept.id, draft=False, prerelease=prerelease, make_latest=latest
            )
        say(f"  {kept.html_url}")


GITHUB = PublishGitHubRelease()
