"""Pull requests on the GitHub stand-in, merged for real into the repository's bare origin.

A release through a pull request (a protected main) opens one from `release/vX` into main and
waits for a reviewer to merge it. The stand-in keeps each pull request, answers GitHub's REST
shapes for it, and merges it the three ways GitHub offers, on the origin git repository
itself, as GitHub's merge button does:
- merge: a merge commit with two parents, titled "Merge pull request #N from OWNER/BRANCH";
- squash: one new commit on the base holding the head's changes, titled "TITLE (#N)" and
  authored by the author of the head's first commit;
- rebase: each of the head's commits replayed onto the base, with new ids (GitHub rebases
  even when a fast-forward would do, so the release commit never keeps its id).
The committer is GitHub's (noreply@github.com). A merge that conflicts is refused with 405 as
GitHub refuses it, as is a rebase whose commits do not replay one by one though the whole
merges cleanly, and a stale `sha` with 409. Without an origin the stand-in serves no pull
requests (creating one answers 422, as for a head branch that does not exist).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Set on the stand-in's own push of a merge: an origin's protected-branch hook (protect below)
# lets it through, as GitHub lets its merge button through.
MERGE_PUSH = {"BARYCENTER_STANDIN_MERGE": "1"}

# GitHub's own words for a push to a protected branch.
PROTECTED_HOOK = """\
#!/bin/sh
[ -n "$BARYCENTER_STANDIN_MERGE" ] && exit 0
refused=0
while read -r old new ref; do
  for branch in {branches}; do
    if [ "$ref" = "refs/heads/$branch" ]; then
      echo "error: GH006: Protected branch update failed for $ref." >&2
      echo "error: Changes must be made through a pull request." >&2
      refused=1
    fi
  done
done
exit $refused
"""


def protect(origin: Path, *branches: str) -> None:
    """The bare origin refuses pushes to `branches` as GitHub's branch protection does: only
    the stand-in's merge of a pull request (MERGE_PUSH) updates them. No branches: none."""
    hook = origin / "hooks" / "pre-receive"
    if not branches:
        hook.unlink(missing_ok=True)
        return
    hook.write_text(PROTECTED_HOOK.format(branches=" ".join(branches)))
    hook.chmod(0o755)


GITHUB_IDENTITY = {
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.com",
    "GIT_AUTHOR_NAME": "Barycenter Reviewer",
    "GIT_AUTHOR_EMAIL": "reviewer@example.com",
}


# GitHub's answer to a rebase merge whose commits do not replay onto the base.
REBASE_REFUSED = "This branch can't be rebased"


class MergeRefused(Exception):  # noqa: N818 - GitHub's word for it
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class StoredPull:
    number: int
    title: str
    body: str | None
    head: str  # branch name
    base: str
    head_sha: str
    base_sha: str
    created_at: str
    draft: bool = False
    state: str = "open"
    merged: bool = False
    merge_commit_sha: str | None = None
    merged_at: str | None = None
    closed_at: str | None = None
    merge_method: str | None = None
    author: str = "barycenter-bot"  # the login that opened it
    # The commits it brought onto the base when merged (GitHub associates each with it).
    commits: tuple[str, ...] = ()


def git(repository: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=repository,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise MergeRefused(500, f"git {args[0]} failed: {result.stderr.strip()}")
    return result.stdout.strip()


class OriginRepository:
    """The bare origin a stand-in's repository lives in."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def branch_sha(self, branch: str) -> str | None:
        try:
            return git(self.path, "rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}")
        except MergeRefused:
            return None

    def commit(self, oid: str) -> tuple[str, str, str] | None:
        """A commit's author email, author name and message body; None if there is none."""
        try:
            found = git(self.path, "log", "-1", "--format=%ae%x00%an%x00%b", f"{oid}^{{commit}}")
        except MergeRefused:
            return None
        email, name, body = found.split("\0", 2)
        return email, name, body

    def mergeable(self, base: str, head: str) -> bool:
        result = subprocess.run(
            ["git", "merge-tree", "--write-tree", f"refs/heads/{base}", f"refs/heads/{head}"],
            cwd=self.path,
            capture_output=True,
            timeout=60,
            check=False,
        )
        return result.returncode == 0

    def merge(self, pull: StoredPull, method: str, title: str, message: str) -> str:
        """Merge `pull` into its base on the origin; the new tip of the base."""
        work = Path(tempfile.mkdtemp(prefix="standin-merge-"))
        try:
            clone = work / "clone"
            git(work, "clone", "-q", "--no-checkout", str(self.path), str(clone))
            git(clone, "checkout", "-q", "-B", pull.base, f"origin/{pull.base}")
            head = f"origin/{pull.head}"
            env = GITHUB_IDENTITY
            if method == "merge":
                git(clone, "merge", "-q", "--no-ff", "-m", title, "-m", message, head, env=env)
            elif method == "squash":
                # GitHub authors a squash as the pull request's author (here: the author of
                # its first commit); GitHub commits it.
                first = git(clone, "rev-list", "--reverse", head, f"^{pull.base}").split()[0]
                name, email = git(clone, "log", "-1", "--format=%an%x00%ae", first).split("\0")
                author = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
                git(clone, "merge", "-q", "--squash", head, env=env)
                git(clone, "commit", "-q", "-m", title, "-m", message, env=env | author)
            else:  # rebase: replay each commit, new ids; authors kept, GitHub the committer
                committer = {k: v for k, v in env.items() if k.startswith("GIT_COMMITTER")}
                git(clone, "checkout", "-q", "-B", "standin-rebase", head)
                try:
                    git(clone, "rebase", "-q", "--force-rebase", pull.base, env=committer)
                except MergeRefused:
                    # A head that merges cleanly may still not replay commit by commit (a
                    # merge commit's resolution, a change made then undone): GitHub's refusal.
                    raise MergeRefused(405, REBASE_REFUSED) from None
                git(clone, "checkout", "-q", pull.base)
                git(clone, "merge", "-q", "--ff-only", "standin-rebase")
            tip = git(clone, "rev-parse", "HEAD")
            brought = git(clone, "rev-list", tip, f"^origin/{pull.base}")
            heads = git(clone, "rev-list", head, f"^origin/{pull.base}")
            git(clone, "push", "-q", "origin", f"{tip}:refs/heads/{pull.base}", env=MERGE_PUSH)
            pull.commits = tuple(dict.fromkeys([*brought.split(), *heads.split()]))
            return tip
        finally:
            shutil.rmtree(work, ignore_errors=True)


def merge_title(pull: StoredPull, owner: str, method: str) -> str:
    if method == "merge":
        return f"Merge pull request #{pull.number} from {owner}/{pull.head}"
    return f"{pull.title} (#{pull.number})"
