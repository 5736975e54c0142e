"""tag and push: the annotated tag vX on the release commit, pushed with its branch atomically."""

from __future__ import annotations

from release import changelog
from release.errors import ReleaseError
from release.git import GitError
from release.notes import from_range, groups_of, markdown
from release.plan import Plan, notes_range
from release.release_commit import (
    decoded,
    is_release_commit,
    merged_release_commit,
    planned_files,
)
from release.steps import RELEASE_COMMIT, TAG, Need, Say, State, Status, Step, checks


def tag_message(plan: Plan, commit: str, say: Say) -> str:
    """The tag's message: a title, then the release notes of the commits it releases, which
    name people where credit-people-in says "tag" (release.credits)."""
    from release.credits import people_for

    notes = from_range(notes_range(plan, commit), groups_of(plan.config))
    people = people_for(plan.root, notes, plan.config, "tag", say, tip=commit)
    return f"Barycenter {plan.tag}\n\n{markdown(notes, plan.config.source_url, people)}"


def undo_release_commit(plan: Plan) -> str:
    return (
        f"git reset --keep {plan.tag_branch}~1 (drops the release "
        f"commit), git pull --ff-only {plan.remote} {plan.tag_branch}, then run the release again"
    )


def signed(plan: Plan) -> bool:
    """The local tag object carries a signature (OpenPGP, SSH or X.509)."""
    try:
        body = plan.repo.output("cat-file", "tag", f"refs/tags/{plan.tag}")
    except GitError:
        return False
    return "\n-----BEGIN " in body


def stale_changelog(plan: Plan, tip: str) -> list[str]:
    """The release commit's CHANGELOG section must list what the tag releases: after a rebase
    onto a colleague's commits (git pull --rebase) it lacks them, while the notes would not."""
    repo = plan.repo
    if plan.flow != "release" or repo.rev(tip) is None:
        return []
    if not is_release_commit(repo, tip, plan.version, plan.commit_message):
        return []
    written = repo.blob(tip, "CHANGELOG.md")
    if written is None:
        return []

    def section(planned: bytes) -> str:
        return changelog.section_body(decoded("CHANGELOG.md", planned)[0], plan.version)

    try:
        ours = section(written)
        # Written naming people or not (GitHub may not have answered then): either matches.
        if ours == section(planned_files(plan, f"{tip}^", credited=False)["CHANGELOG.md"]):
            return []
        if "changelog" in plan.config.credit_people_in and ours == section(
            planned_files(plan, f"{tip}^")["CHANGELOG.md"]
        ):
            return []
    except ReleaseError:
        return []
    return [
        f"the CHANGELOG.md section of {plan.version} in the release commit does not match the "
        f"commits it releases ({plan.tag_branch} moved after release.prepare): git reset --keep "
        f"{plan.tag_branch}~1 (drops the release commit), then run invoke release.prepare "
        f"--version {plan.version} and tag again"
    ]


class Tag(Step):
    name = "tag"
    title = "create the annotated tag on the release commit"
    makes = frozenset({TAG})

    def target(self, plan: Plan) -> str:
        """The release commit: the branch's tip, or where the pull request put it on main."""
        if plan.via_pull_request:
            merged = merged_release_commit(plan)
            if merged is not None:
                return merged
        return f"refs/heads/{plan.tag_branch}"

    def state(self, plan: Plan) -> Status:
        repo = plan.repo
        if plan.stray_tag is not None:
            return Status.todo(plan.stray_tag)
        local = repo.tag_target(plan.tag)
        if local is not None:
            if not repo.tag_is_annotated(plan.tag):
                return Status.todo(f"{plan.tag} is a lightweight tag")
            return Status.done(f"{plan.tag} on {plan.released or local[:12]}")
        if plan.revision is not None:
            return Status.done(f"{plan.tag} exists on {plan.remote} ({plan.revision[:12]})")
        return Status.todo()

    def unsigned(self, plan: Plan) -> list[str]:
        repo = plan.repo
        local = repo.tag_target(plan.tag)
        pushed = repo.remote_state(plan.remote).tag_objects.get(plan.tag)
        if plan.sign and local is not None and pushed is None and not signed(plan):
            return [
                f"tag {plan.tag} is not signed, and --sign asks for a signed tag: delete it "
                f"(git tag -d {plan.tag}) and tag again with --sign, or tag without --sign"
            ]
        return []

    def to_tag(self, plan: Plan) -> bool:
        """The tag is still to be made, and nothing else about it is refused."""
        # A stray vX: the runner refuses it, once, for every step trusting the tag.
        return (
            plan.stray_tag is None
            and not self.unsigned(plan)
            and self.state(plan).state is State.TODO
        )

    def check(self, plan: Plan) -> list[str]:
        if plan.stray_tag is not None:
            return []
        unsigned = self.unsigned(plan)
        if unsigned or not self.to_tag(plan):
            return unsigned
        return [*checks.identity(plan.repo), *stale_changelog(plan, self.target(plan))]

    def needs(self) -> tuple[Need, ...]:
        return (Need(RELEASE_COMMIT, self.release_commit_problems),)

    def release_commit_problems(self, plan: Plan) -> list[str]:
        """Without this run's prepare: the branch ends with X's release commit."""
        repo = plan.repo
        problems: list[str] = []
        if plan.via_pull_request:
            if self.to_tag(plan) and merged_release_commit(plan) is None:
                return [
                    f"the release commit of {plan.version} is not on {plan.remote}/"
                    f'{plan.tag_branch} (release-via = "pull-request"): run {plan.rerun}, '
                    "which proposes it by a pull request and tags it once merged"
                ]
            return []
        if plan.flow == "release" and self.to_tag(plan):
            problems += checks.on_branch(repo, plan.release_branch)
            problems += checks.clean(repo)
            tip = self.target(plan)
            if repo.rev(tip) is None or not is_release_commit(
                repo, tip, plan.version, plan.commit_message
            ):
                problems.append(
                    f"{plan.tag_branch} does not end with the release commit of {plan.version}: "
                    f"run invoke release.prepare --version {plan.version} first"
                )
        return problems

    def describe(self, plan: Plan) -> list[str]:
        kind = "-s" if plan.sign else "-a"
        where = plan.tag_branch
        if plan.via_pull_request:
            where = f"<the release commit the pull request put on {plan.tag_branch}>"
        return [f"git tag {kind} {plan.tag} {where} -m 'Barycenter {plan.tag} …notes'"]

    def run(self, plan: Plan, say: Say) -> None:
        kind = "-s" if plan.sign else "-a"
        commit = plan.repo.rev(self.target(plan))
        if commit is None:
            raise ReleaseError(f"branch {plan.tag_branch} is missing", "run the release again")
        try:
            # verbatim: the notes' Markdown headings start with "#", which git would strip.
            plan.repo.call(
                "tag",
                kind,
                "--cleanup=verbatim",
                "-m",
                tag_message(plan, commit, say),
                "--",
                plan.tag,
                commit,
            )
        except GitError as error:
            raise ReleaseError(
                f"git could not create tag {plan.tag} ({error.reason})",
                "check git's signing setup (user.signingkey, gpg.format) or tag without --sign",
            ) from None


def lost_race(plan: Plan, theirs: str | None) -> None:
    """Another clone pushed first. Nothing of this release was published, and its release
    commit, made on the old tip, can never be pushed: it is undone, so the clone is as it was
    before the release and the advice is one pull."""
    repo = plan.repo
    branch = plan.tag_branch
    tip = repo.rev(f"refs/heads/{branch}")
    if (
        tip is None
        or repo.current_branch() != branch
        or not is_release_commit(repo, tip, plan.version, plan.commit_message)
    ):
        return
    try:
        repo.call("reset", "--keep", "--quiet", f"{tip}~1")
    except GitError:
        return  # local changes in the way: the advice given says how to do it by hand
    pull = f"git pull --ff-only {plan.remote} {branch}"
    if theirs is not None:
        raise ReleaseError(
            f"{plan.tag} was released from another clone meanwhile ({plan.remote} has it on "
            f"{theirs[:12]}): nothing was pushed, and the release commit here was undone",
            f"{pull} to get that release",
        )
    raise ReleaseError(
        f"{plan.remote}/{branch} moved while releasing (someone pushed): nothing was pushed, "
        "and the release commit here was undone",
        f"{pull}, then run the release again",
    )


def protected_branch(error: GitError) -> bool:
    """GitHub's branch protection refused the push (GH006, its own words)."""
    return "GH006" in error.reason or "Protected branch update failed" in error.reason


def refuse_protected(plan: Plan, error: GitError) -> None:
    """A protected release branch takes no push: nothing was pushed, the tag is gone, and a
    release's commit is undone here, so setting release-via = "pull-request" and running the
    same command proposes the release by a pull request from a clone as it was before."""
    repo = plan.repo
    branch = plan.tag_branch
    undone = ""
    tip = repo.rev(f"refs/heads/{branch}")
    if (
        plan.flow == "release"
        and tip is not None
        and repo.current_branch() == branch
        and is_release_commit(repo, tip, plan.version, plan.commit_message)
    ):
        try:
            repo.call("reset", "--keep", "--quiet", f"{tip}~1")
            undone = ", and the release commit here was undone"
        except GitError:
            undone = f" (the release commit is still on {branch}: {undo_release_commit(plan)})"
    raise ReleaseError(
        f"{plan.remote} refuses pushes to {branch}, a protected branch (GH006): nothing was "
        f"pushed{undone}",
        'set release-via = "pull-request" in [tool.barycenter.release] to release through a '
        f"pull request, then run {plan.rerun} again",
    )


class Push(Step):
    """The branch and its tag in one atomic push: both land, or neither does."""

    name = "push"
    title = "push the branch and the tag atomically"
    makes = frozenset({TAG})

    def state(self, plan: Plan) -> Status:
        repo = plan.repo
        pushed = repo.remote_state(plan.remote).tag_objects.get(plan.tag)
        if pushed is None:
            return Status.todo()
        local_tag = repo.tag_object(plan.tag)
        if local_tag is not None and pushed != local_tag:
            return Status.todo(f"{plan.remote} has another {plan.tag}")
        # The push is atomic: a tag on the remote came with its branch.
        return Status.done(f"{plan.tag} on {plan.remote}")

    def check(self, plan: Plan) -> list[str]:
        repo = plan.repo
        pushed = repo.remote_state(plan.remote).tag_objects.get(plan.tag)
        local_tag = repo.tag_object(plan.tag)
        if pushed is not None and local_tag is not None and pushed != local_tag:
            return [
                f"tag {plan.tag} on {plan.remote} is not this clone's {plan.tag}: released tags "
                f"are immutable; git tag -d {plan.tag} && git fetch --tags {plan.remote}"
            ]
        return []

    def needs(self) -> tuple[Need, ...]:
        return (Need(RELEASE_COMMIT, self.release_commit_problems),)

    def release_commit_problems(self, plan: Plan) -> list[str]:
        """Without this run's prepare: the branch still stands where the release commit was
        made, so the push of the release commit is a fast-forward."""
        if plan.via_pull_request or self.check(plan) or self.state(plan).state is not State.TODO:
            return []  # through a pull request, only the tag is pushed
        repo = plan.repo
        remote = repo.remote_state(plan.remote)
        if plan.flow == "release":
            local = repo.rev(f"refs/heads/{plan.tag_branch}")
            upstream = remote.heads.get(plan.tag_branch)
            if local and upstream and upstream != local and repo.rev(f"{local}^") != upstream:
                return [
                    f"{plan.remote}/{plan.tag_branch} has moved since the release commit was "
                    f"made: {undo_release_commit(plan)}"
                ]
        return []

    def describe(self, plan: Plan) -> list[str]:
        if plan.via_pull_request:
            return [f"git push {plan.remote} refs/tags/{plan.tag}"]
        return [
            f"git push --atomic {plan.remote} refs/heads/{plan.tag_branch} refs/tags/{plan.tag}"
        ]

    def run(self, plan: Plan, say: Say) -> None:
        branch = plan.tag_branch
        # Through a pull request the branch already holds the release commit: the tag alone.
        branch_ref = () if plan.via_pull_request else (f"refs/heads/{branch}:refs/heads/{branch}",)
        try:
            plan.repo.call(
                "push",
                "--atomic",
                "--porcelain",
                "--",
                plan.remote,
                *branch_ref,
                f"refs/tags/{plan.tag}",
            )
        except GitError as error:
            # The tag was never published: removing it leaves nothing half-done, and the
            # rerun makes it again on the right commit.
            plan.repo.call("tag", "-d", "--", plan.tag)
            what = f"the push of {branch} and {plan.tag}, so nothing was pushed"
            if plan.via_pull_request:
                what = f"the push of {plan.tag}, so nothing was pushed"
            elif protected_branch(error) and plan.flow == "release":
                refuse_protected(plan, error)
            if error.reason.startswith("failed to push some refs") and plan.repo.has_hook(
                "pre-push"
            ):
                words = "; ".join(error.hook_words) or "no reason given"
                raise ReleaseError(
                    f"the pre-push hook refused {what} ({words})",
                    "fix what the hook says, then run the same command again",
                ) from None
            remote = plan.repo.remote_state(plan.remote)
            moved = remote.heads.get(branch) not in (
                None,
                plan.repo.rev(f"refs/heads/{branch}^"),
            )
            if moved and plan.flow == "release":
                lost_race(plan, remote.tags.get(plan.tag))
                advice = undo_release_commit(plan)
            elif moved:
                advice = (
                    f"{plan.remote}/{branch} moved: git fetch {plan.remote}, git switch {branch}, "
                    f"git reset --keep {plan.remote}/{branch} (drops the local merge), then run "
                    f"invoke hotfix.finish --version {plan.version} again"
                )
            else:
                advice = f"fix what {plan.remote} says, then run the same command again"
            raise ReleaseError(f"{plan.remote} rejected {what} ({error.reason})", advice) from None
