"""publish: one multi-arch index tagged vX, plus latest/X.Y/X where the policy says.

Before any tag moves, the index is checked: exactly the configured platforms, each child's
image config matching its slot and labelled with version X. Republishing the same images
changes nothing; a version tag on other images is refused unless --force.
"""

from __future__ import annotations

from release import registry
from release.errors import ReleaseError
from release.oci import child_digests, index_platforms
from release.plan import Plan
from release.steps import INDEX, PLATFORM_IMAGES, Need, Say, Status, Step


def source_problems(plan: Plan) -> tuple[list[str], list[str]]:
    """The per-platform images the index is made of, as `IMAGE@digest`, and what is wrong with
    them: exactly the configured platforms, each holding its own platform, labelled X."""
    hint = registry.login_hint(plan.config)
    problems, sources = [], []
    for platform in plan.config.platforms:
        reference = plan.platform_image(platform)
        found = registry.manifest(reference, hint, timeout=plan.config.registry_timeout)
        if found is None:
            problems.append(
                f"{reference} is not in the registry: "
                f"run invoke release.build --version {plan.version} --platform {platform}"
            )
            continue
        configs = list(
            registry.image_configs(reference, timeout=plan.config.registry_timeout).values()
        )
        held = sorted({c.platform for c in configs})
        if held != [platform]:
            problems.append(
                f"{reference} holds a {', '.join(held)} image in the {platform} slot: "
                f"rebuild it with --platform {platform}"
            )
            continue
        label = configs[0].labels.get("org.opencontainers.image.version")
        if label != str(plan.version):
            problems.append(
                f"{reference} is labelled version {label}, not {plan.version}: "
                "rebuild it from the release tag"
            )
        sources.append(f"{plan.image}@{found['digest']}")
    return problems, sources


def planned_children(plan: Plan, sources: list[str]) -> set[str]:
    planned = registry.planned_index(sources, timeout=plan.config.registry_timeout)
    if index_platforms(planned) != sorted(plan.config.platforms):
        raise ReleaseError(
            f"the index would hold {', '.join(index_platforms(planned))}, "
            f"not {', '.join(sorted(plan.config.platforms))}",
            "rebuild the platform images, one per configured platform",
        )
    return child_digests(planned)


def stale_tags(plan: Plan, children: set[str]) -> list[str]:
    hint = registry.login_hint(plan.config)
    stale = []
    for tag in plan.image_tags:
        current = registry.manifest(
            f"{plan.image}:{tag}", hint, timeout=plan.config.registry_timeout
        )
        if current is None or child_digests(current) != children:
            stale.append(tag)
    return stale


def platform_image_problems(plan: Plan) -> list[str]:
    """Without this run's build: the platform images exist, make one index, and vX does not
    name other images already (unless --force)."""
    problems, sources = source_problems(plan)
    if problems:
        return problems
    children = planned_children(plan, sources)
    published = registry.manifest(
        f"{plan.image}:{plan.tag}",
        registry.login_hint(plan.config),
        timeout=plan.config.registry_timeout,
    )
    moved = published is not None and child_digests(published) != children
    if moved and not plan.move_version_tag:
        return [
            f"{plan.image}:{plan.tag} already points at other images (released tags "
            "are immutable): publish a new version, or pass --force to move it"
        ]
    return []


class PublishIndex(Step):
    name = "publish"
    title = "publish the multi-arch index under the tags the policy gives"
    uses_registry = True
    reads_image_tags = True
    makes = frozenset({INDEX})

    def state(self, plan: Plan) -> Status:
        problems, sources = source_problems(plan)
        if problems:
            return Status.todo(problems[0].split(": ", 1)[0])
        stale = stale_tags(plan, planned_children(plan, sources))
        if stale:
            return Status.todo("to tag: " + ", ".join(stale))
        return Status.done(", ".join(f"{plan.image}:{t}" for t in plan.image_tags))

    def needs(self) -> tuple[Need, ...]:
        return (Need(PLATFORM_IMAGES, platform_image_problems),)

    def describe(self, plan: Plan) -> list[str]:
        sources = " ".join(plan.platform_image(p) for p in plan.config.platforms)
        return [f"push the index of {sources} as {plan.image}:{tag}" for tag in plan.image_tags]

    def run(self, plan: Plan, say: Say) -> None:
        problems, sources = source_problems(plan)
        if problems:
            raise ReleaseError(problems[0].split(": ", 1)[0], problems[0].split(": ", 1)[-1])
        children = planned_children(plan, sources)
        published = registry.manifest(
            f"{plan.image}:{plan.tag}", timeout=plan.config.registry_timeout
        )
        moved = published is not None and child_digests(published) != children
        if moved and not plan.move_version_tag:
            raise ReleaseError(
                f"{plan.image}:{plan.tag} already points at other images "
                "(released tags are immutable)",
                "publish a new version, or pass --force to move it",
            )
        stale = stale_tags(plan, children)
        registry.create_index(
            [f"{plan.image}:{t}" for t in stale], sources, timeout=plan.config.registry_timeout
        )
        index = registry.manifest(f"{plan.image}:{plan.tag}", timeout=plan.config.registry_timeout)
        digest = index["digest"] if index else "?"
        say(f"  {plan.image}:{plan.tag} = {plan.image}@{digest} ({', '.join(stale)})")
