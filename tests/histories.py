"""Git histories for the notes and changelog tests: built commit by commit, or generated.

`History` is a repository built step by step with annotated tags, like the release system's.
`generate` streams a seeded history into `git fast-import`: release lines with release
candidates, release branches cut after their minor release with patch tags on them, merges
back, hotfixes of older lines, topic merges, and commit dates that repeat or go backwards.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import semver

from release.history import release_range
from tests.gitrepos import configure_identity, git

SUBJECTS = ["feat: add {}", "fix: repair {}", "chore: tidy {}", "docs: explain {}", "Update {}"]
THINGS = ["tokens", "sessions", "the router", "CARGO_<name>_TOKEN", "keys", "logs", "`x_y`"]


class History:
    """A repository built commit by commit; tags are annotated, like the release system's."""

    def __init__(self, root: Path, prefix: str = "v") -> None:
        self.root = root
        self.prefix = prefix
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        configure_identity(root)
        self.clock = 1_700_000_000

    def run(self, *args: str) -> None:
        self.clock += 60
        stamp = f"@{self.clock} +0000"
        env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        subprocess.run(["git", *args], cwd=self.root, check=True, env=env, capture_output=True)

    def commit(self, subject: str, body: str = "") -> str:
        message = subject + (f"\n\n{body}" if body else "")
        self.run("commit", "-q", "--allow-empty", "--allow-empty-message", "-m", message)
        return git(self.root, "rev-parse", "HEAD")

    def tag(self, version: str, ref: str = "HEAD") -> None:
        name = f"{self.prefix}{version}"
        git(self.root, "tag", "-a", name, ref, "-m", name)

    def switch(self, branch: str, start: str | None = None) -> None:
        git(self.root, "switch", "-q", *(["-c", branch, start] if start else [branch]))

    def merge(self, ref: str) -> None:
        self.run("merge", "-q", "--no-ff", "--no-edit", ref)

    def subjects(self, version: str | None) -> list[str]:
        parsed = semver.Version.parse(version) if version else None
        return sorted(c.subject for c in release_range(self.root, parsed).commits)

    def previous(self, version: str | None) -> str | None:
        parsed = semver.Version.parse(version) if version else None
        found = release_range(self.root, parsed)
        return found.previous.tag if found.previous else None


class Stream:
    """A `git fast-import` stream: commits on branches, merges, annotated tags."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[str] = []
        self.marks = 0
        self.tips: dict[str, int] = {}
        self.clock = 1_700_000_000
        self.tags: list[str] = []

    def when(self) -> int:
        # Mostly forward; sometimes the same second, sometimes a skewed clock going back.
        self.clock += self.rng.choice([60, 60, 60, 0, -3600])
        return self.clock

    def commit(self, branch: str, subject: str, merge: str | None = None) -> int:
        self.marks += 1
        stamp = f"Tester <t@example.org> {self.when()} +0000"
        data = subject.encode()
        self.lines += [f"commit refs/heads/{branch}", f"mark :{self.marks}"]
        self.lines += [f"author {stamp}", f"committer {stamp}", f"data {len(data)}", subject]
        if branch in self.tips:
            self.lines.append(f"from :{self.tips[branch]}")
        if merge is not None:
            self.lines.append(f"merge :{self.tips[merge]}")
        self.tips[branch] = self.marks
        return self.marks

    def work(self, branch: str, count: int) -> None:
        for _ in range(count):
            subject = self.rng.choice(SUBJECTS).format(self.rng.choice(THINGS))
            self.commit(branch, f"{subject} {self.marks}")

    def branch(self, name: str, start: str) -> None:
        self.tips[name] = self.tips[start]
        self.lines += [f"reset refs/heads/{name}", f"from :{self.tips[start]}"]

    def tag(self, name: str, branch: str) -> None:
        self.tags.append(name)
        self.lines += [f"tag {name}", f"from :{self.tips[branch]}"]
        self.lines += [f"tagger Tester <t@example.org> {self.clock} +0000", "data 0"]


def generate(root: Path, seed: int, minors: int = 6, prefix: str = "v") -> list[str]:
    """A seeded history of `minors` release lines; returns its release tags."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible history, not a secret
    s = Stream(rng)
    s.commit("main", "chore: initial commit")
    s.tag(f"{prefix}0.1.0", "main")
    for minor in range(2, minors + 2):
        s.work("main", rng.randint(2, 5))
        if rng.random() < 0.5:
            s.branch("topic", "main")
            s.work("topic", 2)
            s.work("main", 1)
            s.commit("main", f"Merge branch 'topic' {s.marks}", merge="topic")
        for rc in range(1, rng.randint(1, 3)):
            s.tag(f"{prefix}0.{minor}.0-rc.{rc}", "main")
            s.work("main", rng.randint(1, 2))
        s.tag(f"{prefix}0.{minor}.0", "main")
        # The release branch is cut after the minor release, with commits from main on it.
        s.work("main", rng.randint(0, 3))
        line = f"release/0.{minor}"
        s.branch(line, "main")
        s.work("main", rng.randint(1, 3))
        for patch in range(1, rng.randint(2, 4)):
            s.work(line, rng.randint(1, 2))
            s.tag(f"{prefix}0.{minor}.{patch}", line)
        if rng.random() < 0.5:
            s.commit("main", f"Merge branch '{line}' {s.marks}", merge=line)
        if minor > 2 and rng.random() < 0.4:
            # A hotfix of the previous line, tagged after this minor exists.
            old = f"release/0.{minor - 1}"
            s.work(old, 1)
            s.tag(f"{prefix}0.{minor - 1}.{9}", old)
    s.work("main", rng.randint(1, 3))
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    configure_identity(root)
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=root,
        input="\n".join([*s.lines, ""]).encode(),
        check=True,
    )
    git(root, "reset", "-q", "--hard", "main")
    return s.tags
