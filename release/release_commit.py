"""The release commit of X: what it holds (the bumped Cargo files and CHANGELOG.md, computed
from committed files alone) and how to recognise it. Prepare makes it; tag checks it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import semver

from release import cargo, changelog
from release.errors import ReleaseError
from release.git import GitError, GitRepo
from release.notes import from_range, group_sections, groups_of
from release.plan import Plan, notes_range

RELEASE_FILES = ("Cargo.toml", "Cargo.lock", "CHANGELOG.md")


def is_release_commit(repo: GitRepo, ref: str, version: semver.Version, message: str) -> bool:
    """`ref` is the release commit of X: its subject holds the release commit message (a
    commit-msg hook may add to it), Cargo.toml says X, CHANGELOG.md has `## [X]`."""
    try:
        subject = repo.output("log", "-1", "--format=%s", ref)
    except GitError:
        return False
    if message.splitlines()[0] not in subject:
        return False
    manifest = repo.file_at(ref, "Cargo.toml")
    log = repo.file_at(ref, "CHANGELOG.md")
    if manifest is None or log is None:
        return False
    try:
        declared = cargo.version_in_manifest(manifest)
    except Exception:
        return False
    return declared == str(version) and changelog.has_release(log, version)


def merged_release_commit(plan: Plan) -> str | None:
    """X's release commit as it landed on the remote's release branch through its pull request,
    found by content: a merge keeps its id, a squash or a rebase makes a new commit whose
    subject holds the release commit message (a squash adds " (#N)") and which holds X in
    Cargo.toml and CHANGELOG.md. None while the remote's branch lacks it, or is not fetched."""
    repo = plan.repo
    upstream = repo.remote_state(plan.remote).heads.get(plan.release_branch)
    if upstream is None or not repo.has_object(upstream):
        return None
    subject = plan.commit_message.splitlines()[0]
    exclude = [f"^{plan.previous_commit}"] if plan.previous_commit else []
    candidates = repo.output(
        "rev-list", "--fixed-strings", f"--grep={subject}", upstream, *exclude, "--"
    )
    for commit in candidates.split():
        if is_release_commit(repo, commit, plan.version, plan.commit_message):
            return commit
    return None


def decoded(path: str, data: bytes) -> tuple[str, str]:
    """The text with LF line ends, and the line end the file uses (kept when written back)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ReleaseError(
            f"{path} is not UTF-8 (byte {error.start} is {data[error.start]:#x})",
            f"convert it: iconv -f latin1 -t utf-8 {path} -o {path}.new && mv {path}.new {path}",
        ) from None
    newline = "\r\n" if "\r\n" in text else "\n"
    return text.replace("\r\n", "\n"), newline


def committed(repo: GitRepo, ref: str, path: str) -> bytes | None:
    """The committed bytes, line ends and encoding untouched (both are checked and kept)."""
    return repo.blob(ref, path)


def planned_files(
    plan: Plan, base: str, say: Callable[[str], None] | None = None, credited: bool = True
) -> dict[str, bytes]:
    """The release files as the release commit holds them, computed from `base`'s committed
    files (never from the worktree, so a half-written run gives the same answer).

    Where credit-people-in says "changelog", the CHANGELOG section names people: asked of
    GitHub when `say` is given (the run that writes it), else from the credits cache alone
    (the checks, which must not call GitHub); `credited` False names nobody (git's offline
    pull requests only)."""
    repo = plan.repo
    edits: dict[str, bytes] = {}
    originals: dict[str, tuple[str, str]] = {}
    for name in RELEASE_FILES:
        if repo.mode_at(base, name) == "120000":
            raise ReleaseError(
                f"{name} is a symbolic link",
                "make it a regular file (the release commit rewrites it)",
            )
        data = committed(repo, base, name)
        if data is None:
            if name == "Cargo.lock":
                continue
            raise ReleaseError(
                f"{name} is not committed on {base.removeprefix('refs/heads/')}",
                f"add and commit {name} (Keep a Changelog 1.1.0 for CHANGELOG.md)"
                if name == "CHANGELOG.md"
                else f"add and commit {name}",
            )
        originals[name] = decoded(name, data)
    manifest_text, manifest_nl = originals["Cargo.toml"]
    try:
        current = cargo.version_in_manifest(manifest_text)
        new_manifest = cargo.bumped_manifest(manifest_text, str(plan.version))
    except Exception as error:
        raise ReleaseError(f"Cargo.toml cannot be read ({error})", "fix Cargo.toml") from None
    if current is None:
        raise ReleaseError("Cargo.toml has no [package] version", 'add version = "X.Y.Z"')
    edits["Cargo.toml"] = new_manifest.replace("\n", manifest_nl).encode()
    if "Cargo.lock" in originals:
        lock_text, lock_nl = originals["Cargo.lock"]
        crates = cargo.crate_version(plan.root).crates
        edits["Cargo.lock"] = (
            cargo.bumped_lock(lock_text, crates, str(plan.version)).replace("\n", lock_nl).encode()
        )
    log_text, log_nl = originals["CHANGELOG.md"]
    generated = changelog_sections(plan, base, say, credited)
    new_log = changelog.finalize(
        log_text,
        plan.version,
        plan.today,
        plan.previous,
        plan.config.source_url,
        generated=generated,
    )
    edits["CHANGELOG.md"] = new_log.replace("\n", log_nl).encode()
    return edits


def changelog_sections(
    plan: Plan, base: str, say: Callable[[str], None] | None, credited: bool
) -> str:
    """The grouped entries of the commits X releases, as the CHANGELOG section lists them."""
    from release.credits import people_for

    notes = from_range(notes_range(plan, base), groups_of(plan.config))
    config = plan.config if credited else replace(plan.config, credit_people_in=())
    people = people_for(
        plan.root, notes, config, "changelog", say or (lambda _: None), base, ask=say is not None
    )
    sections = group_sections(notes, plan.config.source_url, people=people)
    welcome = people.section(plan.config.source_url.rstrip("/"), "###") if people else ""
    return f"{sections}\n\n{welcome}" if welcome else sections
