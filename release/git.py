"""The git adapter: thin reads and writes over the git command, so steps speak in release terms.

Reads of the remote use `git ls-remote`, never `git fetch`, so that checking (and a dry run)
leaves every ref as it was.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from release import processes
from release.errors import ReleaseError

INSTALL_GIT = "install git"
# Seconds `git ls-remote` may take: a remote (or a proxy) that accepts the connection and never
# answers would otherwise hold every plan, status and dry run for good. No hook runs there.
REMOTE_READ_TIMEOUT = 120.0


def run_git(
    root: Path,
    args: tuple[str, ...],
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> processes.Finished:
    """`git ARGS` in `root`, in the C locale (its messages are matched), in our process group:
    Ctrl-C reaches git and its hooks as it reaches us."""
    return processes.run(
        ["git", *args],
        cwd=root,
        env={**os.environ, "LC_ALL": "C", **(env or {})},
        timeout=timeout,
        missing_fix=INSTALL_GIT,
    )


def newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read(root: Path, *args: str) -> bytes:
    """What `git -C ROOT ARGS` prints, for reads of any size (a 50k-commit `git log`): one
    large read; a failure is a ReleaseError naming git's last words."""
    result = processes.run(
        ["git", "-C", str(root), *args], large_output=True, missing_fix=INSTALL_GIT
    )
    refuse_failed_read(root, args, result)
    return result.stdout


def read_records(
    root: Path, on_records: Callable[[Iterator[tuple[str, ...]]], None], fields: int, *args: str
) -> None:
    """`read` for output of records of `fields` NUL-terminated fields each (`git rev-list
    --format=A%x00B%x00C%x00`): the records, decoded, go to `on_records` as soon as git has
    written them, a batch at a time, so they are parsed while git still reads the history.
    What git writes between records (rev-list's newline) starts the next record's first field:
    the caller strips it."""
    unfinished: list[bytes] = []  # bytes after the last NUL: a field still being written
    carried: list[str] = []  # whole fields of a record still being written

    def piece(data: bytes) -> None:
        nonlocal carried
        cut = data.rfind(b"\0")
        if cut < 0:
            unfinished.append(data)  # a long message: joined once its NUL comes, not each time
            return
        whole = b"".join([*unfinished, data[:cut]]) if unfinished else data[:cut]
        unfinished[:] = [data[cut + 1 :]]
        decoded = [*carried, *whole.decode(errors="replace").split("\0")]
        complete = len(decoded) - len(decoded) % fields
        carried = decoded[complete:]
        on_records(zip(*[iter(decoded[:complete])] * fields, strict=True))

    result = processes.run(
        ["git", "-C", str(root), *args], large_output=True, on_output=piece, missing_fix=INSTALL_GIT
    )
    refuse_failed_read(root, args, result)
    if carried or any(part.strip() for part in unfinished):
        raise ReleaseError(
            f"git {args[0]} in {root} ended inside a record",
            "check the repository with git fsck, then run the same command again",
        )


def refuse_failed_read(root: Path, args: tuple[str, ...], result: processes.Finished) -> None:
    if not result.ok:
        message = result.err.strip().splitlines()
        raise ReleaseError(
            f"git {args[0]} failed in {root} ({message[-1] if message else result.returncode})",
            "check that it is a git repository with the refs named",
        )


def succeeds(root: Path, *args: str) -> bool:
    """`git -C ROOT ARGS` exits 0 (merge-base --is-ancestor and other yes/no questions)."""
    return processes.run(["git", "-C", str(root), *args], missing_fix=INSTALL_GIT).ok


@dataclass(frozen=True)
class RemoteState:
    heads: dict[str, str]
    tags: dict[str, str]  # tag name -> the commit it points at (peeled)
    tag_objects: dict[str, str]  # tag name -> the object the ref names (the tag object)


class GitError(ReleaseError):
    """A git command failed; carries git's own last words."""

    def __init__(
        self, args: tuple[str, ...], stderr: str, status: object, stdout: str = ""
    ) -> None:
        lines = [line.strip() for line in (stderr + "\n" + stdout).splitlines() if line.strip()]
        # A remote's own words (hooks, policies) come first: they say why, git's summary doesn't.
        remote = [
            line.removeprefix("remote:").strip()
            for line in lines
            if line.startswith("remote:") and line.removeprefix("remote:").strip()
        ]
        # `! [remote rejected] main -> main (pre-receive hook declined)`, or with --porcelain
        # `!\trefs/heads/main:refs/heads/main\t[rejected] (fetch first)`: the reason in brackets.
        rejected = [
            match[1]
            for line in lines
            if (match := re.search(r"\[(?:remote )?rejected\].*\((.+)\)$", line))
        ]
        self.args_ = args
        self.stderr = stderr
        errors = [line.strip() for line in stderr.splitlines() if line.strip()]
        # git's first error line says why ("gpg failed to sign the data"), else its first fatal
        # line; the lines after them are generic ("failed to write commit object", advice).
        first = next(
            (
                line
                for prefix in ("error:", "fatal:")
                for line in errors
                if line.startswith(prefix) and line.removeprefix(prefix).strip()
            ),
            errors[-1] if errors else f"exit status {status}",
        )
        self.reason = "; ".join(dict.fromkeys(remote + rejected)) or first.removeprefix(
            "error: "
        ).removeprefix("fatal: ")
        # What a local hook said: its lines, without git's own summary.
        self.hook_words = [
            line for line in errors if not line.startswith(("error:", "fatal:", "hint:", "To "))
        ]
        super().__init__(f"git {args[0] if args else ''} failed: {self.reason}")


class GitRepo:
    def __init__(self, path: Path) -> None:
        not_a_repository = ReleaseError(
            f"{path} is not a git repository", "run from Barycenter's checkout"
        )
        if not path.is_dir():
            raise not_a_repository
        self.root = path
        try:
            bare, git_dir = self.output(
                "rev-parse", "--is-bare-repository", "--absolute-git-dir"
            ).splitlines()
        except (GitError, ValueError):
            raise not_a_repository from None
        if bare == "true":
            raise ReleaseError(
                f"{path} is a bare repository, and a release commits, tags and merges in a work "
                "tree",
                f"run it in a clone (git clone {path}); release.notes and release.changelog "
                "--output - read a bare repository",
            )
        self.git_dir = Path(git_dir)
        self.root = Path(self.output("rev-parse", "--show-toplevel"))

    def output(
        self,
        *args: str,
        strip: bool = True,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> str:
        """What `git ARGS` prints; raises GitError, with git's own reason, when it fails, and
        ProcessTimeoutError when it takes longer than `timeout` seconds."""
        result = run_git(self.root, args, env, timeout)
        # Decoded as text mode would: invalid bytes replaced, line ends made "\n".
        stdout = newlines(result.out)
        if not result.ok:
            raise GitError(args, newlines(result.err), result.returncode, stdout)
        return stdout.rstrip("\n") if strip else stdout

    def output_bytes(self, *args: str) -> bytes:
        """What `git ARGS` prints, byte for byte (file contents: no decoding, no newline
        translation)."""
        result = run_git(self.root, args)
        if not result.ok:
            raise GitError(args, result.err, result.returncode)
        return result.stdout

    def call(self, *args: str, env: dict[str, str] | None = None) -> None:
        """Run a git command that changes something; GitError when it fails."""
        self.output(*args, env=env)

    def has_hook(self, name: str) -> bool:
        """An executable hook `name` is installed (core.hooksPath honoured)."""
        try:
            hooks = self.output("config", "--get", "core.hooksPath")
        except GitError:
            hooks = self.output("rev-parse", "--git-path", "hooks")
        path = Path(hooks) if Path(hooks).is_absolute() else self.root / hooks
        return os.access(path / name, os.X_OK)

    def current_branch(self) -> str | None:
        """The checked-out branch, or None when HEAD is detached."""
        try:
            # The full name: --short would say heads/main when a tag is named main too.
            head = self.output("symbolic-ref", "--quiet", "HEAD")
            return head.removeprefix("refs/heads/") or None
        except GitError:
            return None

    def is_shallow(self) -> bool:
        return (self.git_dir / "shallow").exists()

    def uncommitted(self) -> list[str]:
        """Changed, staged and untracked (not ignored) paths."""
        output = self.output("status", "--porcelain", "--untracked-files=all")
        return [line[3:] for line in output.splitlines() if line]

    def switch(self, branch: str) -> None:
        """`git switch BRANCH`, finishing a switch that Ctrl-C stopped halfway.

        Git writes the work tree before it moves the index and HEAD, one file at a time: it
        removes the old file, then creates and writes the new one. A switch stopped in between
        leaves files that read as local changes, each holding BRANCH's content, the start of
        it (stopped while writing), or no file (stopped between removing and writing, or gone
        where BRANCH has none). Changes that are all of that kind are discarded by switching
        again: BRANCH holds every byte of them. Any other change refuses, naming the files and
        the fix."""
        try:
            self.call("switch", "--", branch)
            return
        except GitError as refused:
            # Paths as `git status` shows them: one quoted or renamed is not found, so refused.
            changed = self.uncommitted()
            if not changed:
                raise
            try:
                finished_halfway = self.hold_contents_of(branch, changed)
            except GitError:
                raise refused from None
            if not finished_halfway:
                shown = ", ".join(changed[:5]) + (
                    f" and {len(changed) - 5} more" if len(changed) > 5 else ""
                )
                raise ReleaseError(
                    f"switching to {branch} would overwrite uncommitted changes ({shown})",
                    "commit or stash them (git stash --include-untracked), then run the same "
                    "command again",
                ) from None
        self.call("switch", "--discard-changes", "--", branch)

    def hold_contents_of(self, branch: str, paths: list[str]) -> bool:
        """Nothing in these paths but bytes BRANCH holds: in the work tree each is BRANCH's
        version, the start of it, or no file; in the index, BRANCH's version."""
        listed = self.output("ls-tree", "-r", "-z", "--full-tree", branch, "--", *paths)
        wanted = {
            entry.split("\t", 1)[1]: entry.split("\t", 1)[0].split()[2]
            for entry in listed.split("\0")
            if entry
        }
        present = [path for path in paths if (self.root / path).is_file()]
        hashes = self.output("hash-object", "--", *present).split() if present else []
        for path, blob in zip(present, hashes, strict=True):
            if blob == wanted.get(path):
                continue
            if path not in wanted:
                return False
            written = (self.root / path).read_bytes()
            if not self.output_bytes("cat-file", "blob", wanted[path]).startswith(written):
                return False
        staged = self.output("diff", "--cached", "--name-only", "-z", "HEAD", strip=False)
        in_index = self.output("ls-files", "-s", "-z", "--", *paths, strip=False)
        index = {
            entry.split("\t", 1)[1]: entry.split("\t", 1)[0].split()[1]
            for entry in in_index.split("\0")
            if entry
        }
        return all(index.get(path) == wanted.get(path) for path in staged.split("\0") if path)

    def identity(self) -> tuple[str, str]:
        return self.config("user.name"), self.config("user.email")

    def config(self, key: str) -> str:
        """The value git's configuration gives `key`, or "" when none does."""
        try:
            return self.output("config", "--get", key)
        except GitError:
            return ""

    def remote_state(self, remote: str) -> RemoteState:
        try:
            output = self.output(
                "ls-remote", "--heads", "--tags", "--", remote, timeout=REMOTE_READ_TIMEOUT
            )
        except processes.ProcessTimeoutError:
            raise ReleaseError(
                f"remote '{remote}' did not answer git ls-remote within {REMOTE_READ_TIMEOUT:g} s",
                f"check that '{remote}' is reachable: git ls-remote {remote}",
            ) from None
        except GitError as error:
            if remote not in self.output("remote").split():
                raise ReleaseError(
                    f"this repository has no remote '{remote}'",
                    f'add it (git remote add {remote} URL), or name yours: remote = "NAME" in '
                    "[tool.barycenter.release] of pyproject.toml",
                ) from None
            raise ReleaseError(
                f"cannot read remote '{remote}' ({error.reason})",
                f"check that '{remote}' is reachable: git ls-remote {remote}",
            ) from None
        heads: dict[str, str] = {}
        tags: dict[str, str] = {}
        objects: dict[str, str] = {}
        for line in output.splitlines():
            sha, ref = line.split("\t", 1)
            if ref.startswith("refs/heads/"):
                heads[ref[len("refs/heads/") :]] = sha
            elif ref.startswith("refs/tags/"):
                name = ref[len("refs/tags/") :]
                if name.endswith("^{}"):
                    tags[name[:-3]] = sha  # the peeled commit wins over the tag object
                else:
                    tags.setdefault(name, sha)
                    objects[name] = sha
        return RemoteState(heads, tags, objects)

    def rev(self, ref: str) -> str | None:
        try:
            return self.output("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except GitError:
            return None

    def has_object(self, sha: str) -> bool:
        try:
            self.output("cat-file", "-e", sha)
        except GitError:
            return False
        return True

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            self.output("merge-base", "--is-ancestor", ancestor, descendant)
        except GitError:
            return False
        return True

    def count(self, revision_range: str) -> int:
        return int(self.output("rev-list", "--count", revision_range))

    def tags(self) -> list[str]:
        return self.refs("refs/tags")

    def refs(self, prefix: str) -> list[str]:
        """The names of the refs under `prefix` (refs/tags, refs/heads), without it."""
        output = self.output("for-each-ref", "--format=%(refname)", prefix)
        return [line.removeprefix(prefix + "/") for line in output.splitlines() if line]

    def tags_merged_into(self, commit: str) -> list[str]:
        output = self.output("tag", "--merged", commit)
        return [line for line in output.splitlines() if line]

    def tag_target(self, name: str) -> str | None:
        return self.rev(f"refs/tags/{name}")

    def tag_is_annotated(self, name: str) -> bool:
        try:
            return self.output("cat-file", "-t", f"refs/tags/{name}") == "tag"
        except GitError:
            return False

    def tag_object(self, name: str) -> str | None:
        """The object refs/tags/NAME names (the tag object itself, for an annotated tag)."""
        try:
            return self.output("rev-parse", "--verify", "--quiet", f"refs/tags/{name}")
        except GitError:
            return None

    def branches(self) -> list[str]:
        return self.refs("refs/heads")

    def blob(self, ref: str, path: str) -> bytes | None:
        """The bytes of `path` as committed at `ref` (line ends untouched), or None."""
        try:
            return self.output_bytes("cat-file", "blob", f"{ref}:{path}")
        except GitError:
            return None

    def mode_at(self, ref: str, path: str) -> str | None:
        """The mode of `path` in `ref`'s tree (100644, 120000 for a symlink), or None."""
        try:
            entry = self.output("ls-tree", "--full-tree", ref, "--", path)
        except GitError:
            return None
        return entry.split(" ", 1)[0] if entry else None

    def skipped_by_sparse_checkout(self, path: str) -> bool:
        """`path` is in the index but left out of the work tree by a sparse checkout."""
        return self.output("ls-files", "-t", "--", path).startswith("S ")

    def file_at(self, ref: str, path: str) -> str | None:
        try:
            return self.output("show", f"{ref}:{path}", strip=False)
        except GitError:
            return None

    def commit_time(self, ref: str = "HEAD") -> int:
        return int(self.output("log", "-1", "--format=%ct", ref))
