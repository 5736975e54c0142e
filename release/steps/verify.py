"""verify: the post-release checklist, read from reality; it changes nothing, so `run` only
reports what is still wrong. The checklist (docker, GitHub and cosign clients) is imported when
it runs, so that importing the pipeline stays cheap."""

from __future__ import annotations

from release.errors import ReleaseError
from release.plan import Plan
from release.steps import Say, Status, Step


class VerifyRelease(Step):
    name = "verify"
    trusts_tag = True
    reads_image_tags = True
    title = "check the post-release checklist"
    uses_registry = True

    def state(self, plan: Plan) -> Status:
        from release.verify import failures, verify

        wrong = failures(verify(plan))
        if wrong:
            return Status.todo("; ".join(wrong))
        return Status.done("every check passes")

    def describe(self, plan: Plan) -> list[str]:
        return [
            f"check {plan.image}:{plan.tag} (platforms, tags, a run per platform, provenance), "
            "dist/ and develop"
        ]

    def run(self, plan: Plan, say: Say) -> None:
        from release.verify import failures, verify

        wrong = failures(verify(plan))
        if wrong:
            raise ReleaseError(
                f"the release {plan.tag} is not complete: {'; '.join(wrong)}",
                f"fix each, or run invoke release --version {plan.version} again",
            )
