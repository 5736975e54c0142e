"""verify: the post-release checklist, read from reality; it changes nothing, so `run` only
reports what is still wrong. The checklist (docker, GitHub and cosign clients) is imported when
it runs, so that importing the pipeline stays cheap.

The checklist pulls and runs every platform's image, so it runs once per plan: the runner asks
`state`, then `run`, then `state` again, and nothing the checklist does changes its answer.
`release.status` glances without pulling or running anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from release.errors import ReleaseError
from release.plan import Plan
from release.steps import Say, Status, Step

if TYPE_CHECKING:
    from release.checklist import Finding


class VerifyRelease(Step):
    name = "verify"
    reads_image_tags = True
    title = "check the post-release checklist"
    uses_registry = True

    def __init__(self) -> None:
        self.checked: tuple[Plan, list[Finding]] | None = None

    def checklist(self, plan: Plan) -> list[Finding]:
        """The whole checklist, once for this plan (the same object: a re-planned or new run
        checks again)."""
        from release.checklist import verify

        if self.checked is None or self.checked[0] is not plan:
            self.checked = (plan, verify(plan))
        return self.checked[1]

    def state(self, plan: Plan) -> Status:
        from release.checklist import failures

        wrong = failures(self.checklist(plan))
        if wrong:
            return Status.todo("; ".join(wrong))
        return Status.done("every check passes")

    def glance(self, plan: Plan) -> Status:
        from release.checklist import failures, verify

        wrong = failures(verify(plan, thorough=False))
        if wrong:
            return Status.todo("; ".join(wrong))
        return Status.done(
            "every check read without pulling, running or verifying passes "
            "(the rest: invoke release.verify)"
        )

    def describe(self, plan: Plan) -> list[str]:
        return [
            f"check {plan.image}:{plan.tag} (platforms, tags, a run per platform, provenance), "
            "dist/ and develop"
        ]

    def run(self, plan: Plan, say: Say) -> None:
        from release.checklist import failures

        wrong = failures(self.checklist(plan))
        if wrong:
            raise ReleaseError(
                f"the release {plan.tag} is not complete: {'; '.join(wrong)}",
                f"fix each, or run invoke release --version {plan.version} again",
            )
