"""`invoke release.rollback --version X`: undo a release, in the order that is safe to rerun.

The GitHub release goes first (what users see), then the registry (latest and the floating
tags move back to the previous highest stable release before X's manifests are deleted), then
git (the tag here and on the remote; the release commit reverted on main). Each step reads
whether it is done from reality, so a rerun after a failure converges like every release step.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from release import registry
from release.config import ReleaseConfig
from release.errors import ReleaseError
from release.git import GitError
from release.oci import ACCEPT, Reference, RegistryClient, child_digests
from release.plan import Plan, read_facts
from release.steps import Say, State, Status, Step
from release.version import release_versions, tag_name

if TYPE_CHECKING:
    from release.github import GitHubClient


def delete_manifest(image: str, digest: str, config: ReleaseConfig) -> None:
    """DELETE a manifest by digest through the registry API (the tags naming it go with it),
    logged in as the release pushes (credentials, token handshake, registry-timeout)."""
    reference = Reference.parse(image)
    client = RegistryClient.for_reference(
        reference, config.registry_password_env, config.registry_username, config.registry_timeout
    )
    status, _, _ = client.request(
        "DELETE", reference.repository, f"manifests/{digest}", headers={"Accept": ACCEPT}
    )
    if status in (401, 403):
        # GHCR and Docker Hub refuse deletion through the registry API to everyone.
        raise ReleaseError(
            f"the registry {reference.host} refused to delete {image}@{digest} (HTTP {status})",
            f"check the login for {reference.host} (${config.registry_password_env}) and its "
            "delete permission, or delete it by hand (GHCR: the package's versions page); "
            "then run rollback again",
        )
    if status not in (200, 202, 404):
        raise ReleaseError(
            f"the registry refused to delete {image}@{digest} (HTTP {status})",
            "delete it by hand (GHCR: the package's versions page), then run rollback again",
        )


class DeleteGitHubRelease(Step):
    name = "github"
    trusts_tag = False
    title = "delete the GitHub release and its assets"

    def client(self, plan: Plan) -> GitHubClient:
        from release import github_release

        return github_release.client(plan)

    def state(self, plan: Plan) -> Status:
        from release.github_token import token_from_environment

        if token_from_environment() is None:
            return Status.skip("GITHUB_TOKEN and GH_TOKEN are unset")
        with self.client(plan) as client:
            found = client.find_release(plan.tag)
        return Status.todo(f"release {found.id}") if found else Status.done("no release")

    def describe(self, plan: Plan) -> list[str]:
        return [f"delete the GitHub release {plan.tag} of {plan.config.github_repository}"]

    def run(self, plan: Plan, say: Say) -> None:
        with self.client(plan) as client:
            while (found := client.find_release(plan.tag)) is not None:
                client.delete_release(found.id)


class RollBackImages(Step):
    name = "images"
    trusts_tag = False
    title = "move latest and the floating tags back, delete X's images"
    uses_registry = True

    def targets(self, plan: Plan) -> dict[str, str | None]:
        """Floating tag -> the release tag it goes back to (None: it goes with X), as planned."""
        return dict(plan.rollback_successors)

    def state(self, plan: Plan) -> Status:
        if (
            registry.manifest(f"{plan.image}:{plan.tag}", timeout=plan.config.registry_timeout)
            is not None
        ):
            return Status.todo(f"{plan.image}:{plan.tag} exists")
        for platform in plan.config.platforms:
            if (
                registry.manifest(
                    plan.platform_image(platform), timeout=plan.config.registry_timeout
                )
                is not None
            ):
                return Status.todo(f"{plan.platform_image(platform)} exists")
        for tag, back in self.targets(plan).items():
            current = registry.manifest(f"{plan.image}:{tag}", timeout=plan.config.registry_timeout)
            wanted = (
                registry.manifest(f"{plan.image}:{back}", timeout=plan.config.registry_timeout)
                if back
                else None
            )
            if (current is None) != (wanted is None) or (
                current and wanted and child_digests(current) != child_digests(wanted)
            ):
                return Status.todo(f"{tag} is not on {back or 'nothing'}")
        return Status.done(f"no {plan.tag} images; floating tags on the previous releases")

    def describe(self, plan: Plan) -> list[str]:
        lines = [
            f"point {plan.image}:{tag} at the manifest of {plan.image}:{back}"
            for tag, back in self.targets(plan).items()
            if back
        ]
        lines.append(f"delete {plan.image}:{plan.tag} and its per-platform images by digest")
        return lines

    def run(self, plan: Plan, say: Say) -> None:
        for tag, back in self.targets(plan).items():
            if back is not None:
                registry.retag(
                    f"{plan.image}:{tag}",
                    f"{plan.image}:{back}",
                    timeout=plan.config.registry_timeout,
                )
                say(f"  {plan.image}:{tag} -> {back}")
        index = registry.manifest(f"{plan.image}:{plan.tag}", timeout=plan.config.registry_timeout)
        if index is not None:
            delete_manifest(plan.image, str(index["digest"]), plan.config)
        for platform in plan.config.platforms:
            found = registry.manifest(
                plan.platform_image(platform), timeout=plan.config.registry_timeout
            )
            if found is not None:
                delete_manifest(plan.image, str(found["digest"]), plan.config)
        say(f"  deleted {plan.image}:{plan.tag} ({json.dumps(list(plan.config.platforms))})")


class RevertGit(Step):
    name = "git"
    trusts_tag = False
    title = "delete the tag here and on the remote, revert the release commit on main"

    def release_commit(self, plan: Plan) -> str | None:
        commit = plan.revision
        if commit is None:
            return None
        subject = plan.repo.output("log", "-1", "--format=%s", commit)
        return commit if plan.commit_message in subject else None

    def state(self, plan: Plan) -> Status:
        remote = plan.repo.remote_state(plan.remote)
        if plan.tag in remote.tags or plan.repo.tag_target(plan.tag) is not None:
            return Status.todo(f"{plan.tag} exists")
        return Status.done(f"no {plan.tag}")

    def check(self, plan: Plan) -> list[str]:
        if self.state(plan).state is not State.TODO:
            return []
        problems = []
        if plan.revision is not None and not plan.repo.has_object(plan.revision):
            problems.append(f"{plan.tag}'s commit is not here: git fetch --tags {plan.remote}")
        if plan.repo.current_branch() != plan.release_branch:
            problems.append(f"not on {plan.release_branch}: git switch {plan.release_branch}")
        if plan.repo.uncommitted():
            problems.append("uncommitted or untracked files: commit or stash them")
        return problems

    def describe(self, plan: Plan) -> list[str]:
        return [
            f"git revert --no-edit {plan.tag} (the release commit) and push {plan.release_branch}",
            f"git push {plan.remote} :refs/tags/{plan.tag}; git tag -d {plan.tag}",
        ]

    def run(self, plan: Plan, say: Say) -> None:
        repo = plan.repo
        commit = self.release_commit(plan)
        main = f"refs/heads/{plan.release_branch}"
        try:
            if commit is not None and repo.is_ancestor(commit, main):
                reverted = f"This reverts commit {commit}"
                log = repo.output("log", "--format=%B", f"{commit}..{main}")
                if reverted not in log:
                    repo.call("revert", "--no-edit", commit)
            repo.call(
                "push",
                "--atomic",
                "--",
                plan.remote,
                f"{main}:{main}",
                f":refs/tags/{plan.tag}",
            )
            if repo.tag_target(plan.tag) is not None:
                repo.call("tag", "-d", plan.tag)
        except GitError as error:
            raise ReleaseError(
                f"rolling back {plan.tag} in git failed ({error.reason})",
                f"fix what git says, then run invoke release.rollback --version {plan.version} "
                "again",
            ) from None


def refusals(plan: Plan, force: bool) -> list[str]:
    tags = read_facts(plan.repo, plan.remote).tags
    newer = [v for v in release_versions(tags) if v > plan.version]
    if newer and not force:
        return [
            f"{plan.tag} is not the most recent release ({tag_name(max(newer))} is): roll back "
            "the newer ones first, or pass --force"
        ]
    return []
