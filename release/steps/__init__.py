"""The shape every step of the release has: four questions asked of a frozen plan and reality.

`check`: what forbids me (every problem, so the runner reports them all before anything acts).
`state`: am I done, still to do, or not applicable, read from reality alone (git refs and
objects, the registry, files in dist/ by content, GitHub), never from what another step wrote.
`describe`: what I would do, one line per action, for --dry-run.
`run`: do it; the runner then reads `state` again, and a step still not done is an error.

What a step needs from an earlier stage (the tag, the archives, the published index…) it
declares in `needs`, each with what is wrong when that fact is missing; the stage that makes
the fact says so in `makes`. The runner asks a need only when no earlier step of the slice
makes its fact: no step tests which other steps run.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from release.plan import Plan

Say = Callable[[str], None]


class State(enum.Enum):
    DONE = "done"
    TODO = "to do"
    SKIP = "does not apply"
    # Someone else acts first (a reviewer merges the release pull request): the run stops here,
    # successfully, and the same command continues once they have.
    WAIT = "waiting"


@dataclass(frozen=True)
class Need:
    """A fact an earlier stage makes (`Step.makes`), and what is wrong when no step of this
    run makes it and reality lacks it."""

    fact: str
    problems: Callable[[Plan], list[str]]


# The facts stages make for later ones.
RELEASE_COMMIT = "the release commit"
# With release-via = "pull-request": the branch release/vX the release commit is made on, and
# the pull request proposing it.
RELEASE_BRANCH = "the release branch"
PULL_REQUEST = "the release pull request"
# …and, with a develop branch, the pull request merging the release into develop.
DEVELOP_PULL_REQUEST = "the pull request into develop"
TAG = "the tag"
PLATFORM_IMAGES = "the platform images"
ARCHIVES = "the archives"
CHECKSUMS_FILE = "SHA256SUMS"
INDEX = "the published index"
PROVENANCE = "the provenance bundle"


@dataclass(frozen=True)
class Status:
    state: State
    detail: str = ""
    # WAIT: where it is and what continues the release once it happened (the runner says it).
    hint: str = ""

    @classmethod
    def done(cls, detail: str = "") -> Status:
        return cls(State.DONE, detail)

    @classmethod
    def todo(cls, detail: str = "") -> Status:
        return cls(State.TODO, detail)

    @classmethod
    def skip(cls, reason: str) -> Status:
        return cls(State.SKIP, reason)

    @classmethod
    def waiting(cls, what: str, hint: str) -> Status:
        """Waiting for `what` (e.g. "pull request #4"), which nobody here can do; `hint` says
        where it is and what to run once it happened."""
        return cls(State.WAIT, what, hint)


class Step:
    """A stage of the release; subclasses answer the four questions."""

    # A short name: the slice names and `release.status` use it.
    name: ClassVar[str] = ""
    # What it does, for people.
    title: ClassVar[str] = ""
    # It reads or writes the image registry: a real run logs in first (a dry run never does,
    # since docker login writes credentials).
    uses_registry: ClassVar[bool] = False
    # Its state reads the tag vX, trusting it to be X's release: the runner refuses a stray vX
    # (the plan's `stray_tag`) before any step of a slice holding such a step acts. Most steps
    # do, and a step that forgets to say so is refused a stray tag: the safe side. A step that
    # never reads vX says False.
    trusts_tag: ClassVar[bool] = True
    # It moves or reads the image tags the plan gives X (publish, the GitHub release's
    # make_latest, the checklist): the runner decides them again over the remote as it stands
    # when the step starts, and says so when they moved (another clone released meanwhile).
    reads_image_tags: ClassVar[bool] = False
    # The facts this stage makes for later stages (the names above).
    makes: ClassVar[frozenset[str]] = frozenset()

    def needs(self) -> tuple[Need, ...]:
        """What this step needs from earlier stages; see the module's docstring."""
        return ()

    def check(self, plan: Plan) -> list[str]:
        return []

    def state(self, plan: Plan) -> Status:
        raise NotImplementedError

    def glance(self, plan: Plan) -> Status:
        """The state as `release.status` shows it: `state`, unless reading it pulls or runs
        images (the checklist), which a status must not."""
        return self.state(plan)

    def describe(self, plan: Plan) -> list[str]:
        raise NotImplementedError

    def run(self, plan: Plan, say: Say) -> None:
        raise NotImplementedError
