"""release.publish: one multi-arch index tagged vX, plus latest/X.Y/X where the policy says.

Before any tag moves, the index is checked: exactly the configured platforms, each child's
image config matching its slot and labelled with version X. Republishing the same images
changes nothing; a version tag on other images is refused unless --force.
"""

from __future__ import annotations

from typing import Any

from release import registry
from release.context import ReleaseContext
from release.errors import PreflightError, ReleaseError
from release.image_tags import image_tags
from release.images import arch_of
from release.steps import Action, Check
from release.steps.build import platform_tag
from release.version import release_versions


def child_digests(index: dict[str, Any]) -> set[str]:
    return {str(m["digest"]) for m in index.get("manifests") or []}


def index_platforms(index: dict[str, Any]) -> list[str]:
    found = []
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        if platform.get("os") == "unknown":
            continue  # attestation manifests
        name = f"{platform.get('os')}/{platform.get('architecture')}"
        found.append(name + (f"/{platform['variant']}" if platform.get("variant") else ""))
    return sorted(found)


class PublishPreflight(Check):
    def run(self, ctx: ReleaseContext) -> None:
        registry.login_for(ctx.image, ctx.config)
        problems = []
        sources = []
        for platform in ctx.config.platforms:
            reference = platform_tag(ctx, platform)
            found = registry.manifest(reference, registry.login_hint(ctx.config))
            if found is None:
                problems.append(
                    f"{reference} is not in the registry: "
                    f"run invoke release.build --version {ctx.version} --platform {platform}"
                )
                continue
            configs = registry.image_configs(reference)
            config = next(iter(configs.values()))
            if config.platform != platform:
                problems.append(
                    f"{reference} holds a {config.platform} image in the {platform} slot: "
                    f"rebuild it with --platform {platform}"
                )
            label = config.labels.get("org.opencontainers.image.version")
            if label != str(ctx.version):
                problems.append(
                    f"{reference} is labelled version {label}, not {ctx.version}: "
                    "rebuild it from the release tag"
                )
            sources.append(f"{ctx.image}@{found['digest']}")
        if problems:
            raise PreflightError(problems)
        planned = registry.planned_index(sources)
        if index_platforms(planned) != sorted(ctx.config.platforms):
            raise ReleaseError(
                f"the index would hold {', '.join(index_platforms(planned))}, "
                f"not {', '.join(sorted(ctx.config.platforms))}",
                "rebuild the platform images, one per configured platform",
            )
        ctx.sources = sources
        ctx.planned_children = child_digests(planned)
        published = registry.manifest(f"{ctx.image}:{ctx.tag}", registry.login_hint(ctx.config))
        moved = published is not None and child_digests(published) != ctx.planned_children
        if moved and not ctx.force:
            raise ReleaseError(
                f"{ctx.image}:{ctx.tag} already points at other images "
                "(released tags are immutable)",
                "publish a new version, or pass --force to move it",
            )
        versions = release_versions(set(ctx.repo.tags()) | {ctx.tag})
        ctx.image_tags = image_tags(ctx.version, versions, ctx.config.floating_tags)


class PublishIndex(Action):
    name = "publish the multi-arch index"

    def stale_tags(self, ctx: ReleaseContext) -> list[str]:
        stale = []
        for tag in ctx.image_tags:
            current = registry.manifest(f"{ctx.image}:{tag}", registry.login_hint(ctx.config))
            if current is None or child_digests(current) != ctx.planned_children:
                stale.append(tag)
        return stale

    def done(self, ctx: ReleaseContext) -> bool:
        return not self.stale_tags(ctx)

    def describe(self, ctx: ReleaseContext) -> list[str]:
        tags = " ".join(f"-t {ctx.image}:{t}" for t in self.stale_tags(ctx))
        return [f"docker buildx imagetools create {tags} {' '.join(ctx.sources)}"]

    def run(self, ctx: ReleaseContext) -> None:
        stale = self.stale_tags(ctx)
        registry.create_index([f"{ctx.image}:{t}" for t in stale], ctx.sources)
        published = registry.manifest(f"{ctx.image}:{ctx.tag}", registry.login_hint(ctx.config))
        digest = published["digest"] if published else "?"
        ctx.say(f"  {ctx.image}:{ctx.tag} = {ctx.image}@{digest} ({', '.join(stale)})")
        for platform in ctx.config.platforms:
            ctx.say(f"  {platform}: {arch_of(platform)} image in its slot")


PUBLISH = (PublishPreflight(), PublishIndex())
