"""Hostile inputs from issue 10, each on a real repository with a bare origin: every one is
refused with one `error:` line naming the fix, exit status 1, and nothing changed (refs here
and on the remote, HEAD, index, status and every file byte for byte), or, where the input is
legitimate (a CRLF file, a workspace glob, a subdirectory), handled as Cargo and git would.

Issue 10 cases covered here: 2 (merge in progress, CHANGELOG.md missing or left out by a sparse
checkout, latin-1 bytes, a bad commit-message, no Unreleased section), 4, 6, 7, 8, 9, 11 (no
commits, invalid or symlinked Cargo.toml, version "1.0", --dry-run without CHANGELOG.md,
changelog --output into a missing directory, groups = "feat"), 14 (origin missing or
unreachable, workspace globs, --repo a subdirectory, MERGE_HEAD named); and floating-tags or
platforms of the wrong type. test_never_half_done.py has the cases where git itself fails
mid-way (a hook, commit signing, a concurrent run, an unfetched develop).
"""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import release.git
from release.errors import ReleaseError
from release.git import GitRepo
from tests.gitrepos import Project, git, make_project, refused
from tests.halfdone import Templates, hotfix_line, hotfix_ready, ok, released

pytestmark = pytest.mark.repo


@pytest.fixture
def project(templates: Templates, tmp_path: Path) -> Project:
    return templates.copy(released, tmp_path)


def configured(project: Project, line: str) -> None:
    """Add `line` to [tool.barycenter.release], committed and pushed."""
    key = line.split("=")[0].strip()
    lines = (project.work / "pyproject.toml").read_text().splitlines()
    kept = [each for each in lines if each.split("=")[0].strip() != key]
    project.write("pyproject.toml", "\n".join([*kept, line]) + "\n")
    project.git("commit", "-qam", "chore: configure the release")
    project.push("main")


# 7: each number must fit a u64, as Cargo requires.
@pytest.mark.parametrize("task", ["release.prepare", "release"])
def test_a_version_number_above_u64_is_refused(project: Project, task: str) -> None:
    lines = refused(project, task, "--version", "99999999999999999999.0.0")
    assert lines == [
        "error: version '99999999999999999999.0.0' has a number above 18446744073709551615: "
        "Cargo requires each of MAJOR.MINOR.PATCH to fit in 64 bits: use a smaller one"
    ]


# 8: argument injection from the configuration, refused before any git call.
INJECTION = ("remote", "--upload-pack=touch INJECTED;git-upload-pack")
DRY_PREPARE = ("release.prepare", "--version", "1.1.0", "--dry-run")


@pytest.mark.parametrize(
    ("key", "value", "args"),
    [
        (*INJECTION, DRY_PREPARE),
        (*INJECTION, ("release.prepare", "--version", "1.1.0")),
        (*INJECTION, ("release", "--version", "1.1.0", "--dry-run")),
        (*INJECTION, ("release.tag", "--version", "1.1.0")),
        (*INJECTION, ("release.status", "--version", "1.1.0")),
        (*INJECTION, ("hotfix", "1.0.1", "--dry-run")),
        (*INJECTION, ("hotfix.finish", "--version", "1.0.1", "--dry-run")),
        ("release-branch", "--output=INJECTED", DRY_PREPARE),
        ("develop-branch", "-bINJECTED", DRY_PREPARE),
    ],
)
def test_option_like_names_in_the_config_are_refused_before_any_git_call(
    project: Project, tmp_path: Path, key: str, value: str, args: tuple[str, ...]
) -> None:
    # An absolute path: whatever directory git would run the injected command in, it shows.
    value = value.replace("INJECTED", str(tmp_path / "INJECTED"))
    configured(project, f'{key} = "{value}"')
    lines = refused(project, *args)
    assert lines == [
        f"error: {key} = {value!r} in [tool.barycenter.release] is not a usable git name: "
        "use a plain name such as origin, main or develop"
    ]
    assert not list(tmp_path.rglob("*INJECTED*"))
    assert not list(Path.cwd().glob("*INJECTED*"))


# 11: a repository with no commits, cloned from an empty origin; with no remote at all, the
# missing remote is what it is told first.
NO_COMMITS = (
    "error: the repository has no commits yet: commit Cargo.toml, Cargo.lock and "
    "CHANGELOG.md on main and push it, then release"
)
NO_ORIGIN = (
    "error: this repository has no remote 'origin': add it (git remote add origin URL), or name "
    'yours: remote = "NAME" in [tool.barycenter.release] of pyproject.toml'
)


@pytest.mark.parametrize(
    ("remote", "message"),
    [(True, NO_COMMITS), (False, NO_ORIGIN)],
    ids=["empty-origin", "no-remote"],
)
def test_a_repository_with_no_commits_is_refused(
    tmp_path: Path, remote: bool, message: str
) -> None:
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    if remote:
        git(tmp_path, "clone", "-q", str(origin), str(work))
    else:
        git(tmp_path, "init", "-q", "-b", "main", str(work))
    project = Project(origin, work)
    project.git("config", "user.name", "T")
    project.git("config", "user.email", "t@example.org")
    project.write("pyproject.toml", "[tool.barycenter.release]\n")
    assert refused(project, "release.prepare", "--version", "1.0.0") == [message]


# 11: Cargo.toml invalid, a symlink, or with a version that is not SemVer.
def test_an_invalid_cargo_toml_is_refused(project: Project) -> None:
    project.write("Cargo.toml", "[package\nname = 'barycenter'\n")
    project.git("commit", "-qam", "chore: break the manifest")
    project.push("main")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: Cargo.toml cannot be read (")
    assert lines[0].endswith("): fix Cargo.toml")


def test_a_symlinked_cargo_toml_is_refused(project: Project) -> None:
    project.git("mv", "Cargo.toml", "Manifest.toml")
    (project.work / "Cargo.toml").symlink_to("Manifest.toml")
    project.git("add", "Cargo.toml")
    project.git("commit", "-qm", "chore: move the manifest")
    project.push("main")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert lines == [
        "error: Cargo.toml is a symbolic link: make it a regular file "
        "(the release commit rewrites it)"
    ]


def test_a_two_part_cargo_version_is_refused(project: Project) -> None:
    for name in ("Cargo.toml", "Cargo.lock"):
        text = (project.work / name).read_text()
        project.write(name, text.replace('version = "1.0.0"', 'version = "1.0"'))
    project.git("commit", "-qam", "chore: two-part version")
    project.push("main")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert lines == ["error: Cargo.toml's version is not SemVer: write it as MAJOR.MINOR.PATCH"]


# 2 and 11: CHANGELOG.md missing (with and without --dry-run), or left out by sparse checkout.
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_missing_changelog_is_refused(project: Project, dry_run: bool) -> None:
    project.git("rm", "-q", "CHANGELOG.md")
    project.git("commit", "-qm", "chore: drop the changelog")
    project.push("main")
    extra = ["--dry-run"] if dry_run else []
    lines = refused(project, "release.prepare", "--version", "1.1.0", *extra)
    assert lines == [
        "error: CHANGELOG.md is not committed on main: add and commit CHANGELOG.md "
        "(Keep a Changelog 1.1.0 for CHANGELOG.md)"
    ]


def test_a_changelog_left_out_by_sparse_checkout_is_refused(project: Project) -> None:
    project.git("sparse-checkout", "set", "--no-cone", "/*", "!/CHANGELOG.md")
    assert not (project.work / "CHANGELOG.md").exists()
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert lines == [
        "error: CHANGELOG.md is left out by the sparse checkout, and the release commit "
        "changes it: git sparse-checkout disable (or add CHANGELOG.md to it)"
    ]


# 2: CHANGELOG.md with latin-1 bytes, and without an Unreleased section.
def test_a_latin1_changelog_is_refused(project: Project) -> None:
    text = (project.work / "CHANGELOG.md").read_bytes()
    added = "- Unterstützung für Geräte.\n".encode("latin-1")
    (project.work / "CHANGELOG.md").write_bytes(text + added)
    project.git("commit", "-qam", "docs: changelog")
    project.push("main")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    first_bad = len(text) + added.index(b"\xfc")
    assert lines == [
        f"error: CHANGELOG.md is not UTF-8 (byte {first_bad} is 0xfc): convert it: "
        "iconv -f latin1 -t utf-8 CHANGELOG.md -o CHANGELOG.md.new "
        "&& mv CHANGELOG.md.new CHANGELOG.md"
    ]


def test_a_changelog_without_unreleased_is_refused(project: Project) -> None:
    text = (project.work / "CHANGELOG.md").read_text().replace("## [Unreleased]\n", "")
    project.write("CHANGELOG.md", text)
    project.git("commit", "-qam", "docs: changelog without Unreleased")
    project.push("main")
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert lines == [
        "error: CHANGELOG.md has no '## [Unreleased]' section: "
        "add one below the introduction (Keep a Changelog 1.1.0)"
    ]


# 2: a commit-message with an unknown placeholder; 11: groups = "feat"; settings of the wrong
# type.
@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'commit-message = "release {ver}"',
            "error: commit-message = 'release {ver}' in [tool.barycenter.release] has a "
            'placeholder other than {version}: use {version} only, e.g. "chore(release): '
            'v{version}"',
        ),
        (
            'groups = "feat"',
            "error: groups in [tool.barycenter.release] must be a table of heading = [commit "
            'types]: write [tool.barycenter.release.groups] then "Features" = ["feat"]',
        ),
        (
            'floating-tags = "false"',
            "error: floating-tags in [tool.barycenter.release] is 'false', not a boolean: "
            "write floating-tags = true or false",
        ),
        (
            'platforms = "linux/amd64"',
            "error: platforms in [tool.barycenter.release] is 'linux/amd64', not a list of "
            'strings: write platforms = ["..."], e.g. platforms = ["linux/amd64", '
            '"linux/arm64"]',
        ),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_config_values_that_cannot_work_are_refused(
    project: Project, line: str, message: str, dry_run: bool
) -> None:
    configured(project, line)
    extra = ["--dry-run"] if dry_run else []
    assert refused(project, "release.prepare", "--version", "1.1.0", *extra) == [message]


# 11: changelog --output into a directory that does not exist.
def test_changelog_output_into_a_missing_directory_is_refused(project: Project) -> None:
    lines = refused(project, "release.changelog", "--output", "no/such/dir/F")
    assert lines == [
        f"error: cannot write {project.work}/no/such/dir/F (No such file or directory): "
        "pass --output - to print it instead"
    ]


# 2 and 14: a merge in progress is named, with how to finish or abort it.
def test_a_merge_in_progress_is_named(project: Project) -> None:
    project.git("switch", "-q", "-c", "topic", "HEAD~1")
    project.commit("fix: on a topic", "src/device.txt", "topic\n")
    project.git("switch", "-q", "main")
    project.git("merge", "--no-ff", "--no-commit", "topic", check=False)
    assert (project.work / ".git" / "MERGE_HEAD").exists()
    lines = refused(project, "release.prepare", "--version", "1.1.0")
    assert lines == [
        "error: a merge is in progress: finish it (git merge --continue, or git merge --abort) "
        "before releasing"
    ]


# A git killed while it held the index (SIGKILL, a closed terminal's hard stop) leaves
# index.lock: named before anything is written, with git's own fix, and the fix works.
@pytest.mark.parametrize(
    ("make", "args"),
    [
        (released, ("release.prepare", "--version", "1.1.0")),
        (released, ("hotfix", "1.0.1")),
        (hotfix_ready, ("hotfix.finish", "--version", "1.2.1")),
    ],
    ids=["release.prepare", "hotfix", "hotfix.finish"],
)
def test_an_index_left_locked_is_named_and_its_fix_works(
    templates: Templates, tmp_path: Path, make: Callable[[Path], Project], args: tuple[str, ...]
) -> None:
    project = templates.copy(make, tmp_path)
    lock = project.work / ".git" / "index.lock"
    lock.write_bytes(b"")
    lines = refused(project, *args)
    assert lines == [
        f"error: git's index is locked ({lock} exists, left by a git that was stopped): if no "
        f"git command is running in this repository, rm {lock}"
    ]
    fix = shlex.split("rm " + lines[0].rsplit(", rm ", 1)[1])
    subprocess.run(fix, check=True, cwd=project.work)
    ok(project, *args)


# 14: a missing or unreachable origin gives one line with git's own reason.
def test_a_missing_origin_is_one_line_and_its_fix_works(project: Project) -> None:
    project.git("remote", "remove", "origin")
    assert refused(project, "release.prepare", "--version", "1.1.0", "--dry-run") == [NO_ORIGIN]
    project.git("remote", "add", "origin", str(project.origin))
    project.git("fetch", "-q", "origin")
    project.git("branch", "-q", "--set-upstream-to", "origin/main", "main")
    dry = project.invoke("release.prepare", "--version", "1.1.0", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_unreachable_origin_is_one_line(project: Project, tmp_path: Path, dry_run: bool) -> None:
    project.git("remote", "set-url", "origin", str(tmp_path / "gone.git"))
    extra = ["--dry-run"] if dry_run else []
    lines = refused(project, "release.prepare", "--version", "1.1.0", *extra)
    assert lines == [
        f"error: cannot read remote 'origin' ('{tmp_path}/gone.git' does not appear "
        "to be a git repository): check that 'origin' is reachable: git ls-remote origin"
    ]


def test_an_origin_that_never_answers_is_one_line_after_a_bounded_wait(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote that accepts the connection and then says nothing (a stalled server or proxy)
    ends the read after REMOTE_READ_TIMEOUT, shortened here, rather than never."""
    monkeypatch.setattr(release.git, "REMOTE_READ_TIMEOUT", 1.0)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never answers
        port = silent.getsockname()[1]
        project.git("remote", "set-url", "origin", f"git://127.0.0.1:{port}/barycenter.git")
        with pytest.raises(ReleaseError) as refused_read:
            GitRepo(project.work).remote_state("origin")

    assert str(refused_read.value) == (
        "remote 'origin' did not answer git ls-remote within 1 s: check that 'origin' is "
        "reachable: git ls-remote origin"
    )
    project.git("remote", "set-url", "origin", str(project.origin))
    assert "main" in GitRepo(project.work).remote_state("origin").heads


# 4: a hotfix below a newer patch of its line.
def test_a_hotfix_below_an_existing_patch_is_refused(templates: Templates, tmp_path: Path) -> None:
    project = templates.copy(hotfix_line, tmp_path)
    project.git("tag", "-a", "-m", "Barycenter v1.2.2", "v1.2.2", "v1.2.0^{commit}")
    lines = refused(project, "hotfix", "1.2.1", "--force")
    assert lines == [
        "error: 1.2 already has release 1.2.2, above 1.2.1: hotfix the line's next patch, 1.2.3"
    ]
    project.git("tag", "-d", "v1.2.2")
    git(project.origin, "tag", "-a", "-m", "Barycenter v1.2.2", "v1.2.2", "v1.2.0^{commit}")
    lines = refused(project, "hotfix", "1.2.1", "--force")
    assert lines == [
        "error: 1.2 already has release 1.2.2, above 1.2.1: hotfix the line's next patch, 1.2.3"
    ]


# 6: a lightweight tag is refused, here or on the remote; --sign wants a signed tag.
def prepared(project: Project) -> Project:
    ok(project, "release.prepare", "--version", "1.1.0")
    return project


def test_a_lightweight_tag_on_the_release_commit_is_refused(project: Project) -> None:
    prepared(project)
    project.git("tag", "v1.1.0")
    commit = project.git("rev-parse", "HEAD")
    lines = refused(project, "release.tag", "--version", "1.1.0")
    assert lines == [
        f"error: tag v1.1.0 here marks {commit[:12]}, which is not the release of 1.1.0 (a "
        "lightweight tag): delete it (git tag -d v1.1.0), or release another version"
    ]
    assert lines[0] in refused(project, "release", "--version", "1.1.0")
    project.git("tag", "-d", "v1.1.0")  # the fix it names
    ok(project, "release.tag", "--version", "1.1.0")
    assert git(project.origin, "cat-file", "-t", "refs/tags/v1.1.0") == "tag"


def test_a_lightweight_tag_on_the_remote_is_refused(project: Project) -> None:
    prepared(project)
    project.git("push", "-q", "origin", "main")
    git(project.origin, "tag", "v1.1.0", "main")
    commit = project.git("rev-parse", "HEAD")
    lines = refused(project, "release.tag", "--version", "1.1.0")
    assert lines == [
        f"error: tag v1.1.0 on origin marks {commit[:12]}, which is not the release of 1.1.0 "
        "(a lightweight tag): delete it (git push origin :refs/tags/v1.1.0), or release "
        "another version"
    ]
    project.git("push", "-q", "origin", ":refs/tags/v1.1.0")  # the fix it names
    ok(project, "release.tag", "--version", "1.1.0")
    assert git(project.origin, "cat-file", "-t", "refs/tags/v1.1.0") == "tag"


def test_an_unsigned_tag_does_not_count_with_sign(project: Project) -> None:
    prepared(project)
    project.git("tag", "-a", "-m", "Barycenter v1.1.0", "v1.1.0")
    lines = refused(project, "release.tag", "--version", "1.1.0", "--sign")
    assert lines == [
        "error: tag v1.1.0 is not signed, and --sign asks for a signed tag: delete it "
        "(git tag -d v1.1.0) and tag again with --sign, or tag without --sign"
    ]


# 9: CRLF files keep their line endings; the release commit touches only what changes.
def test_crlf_files_keep_their_line_endings(project: Project) -> None:
    for name in ("Cargo.toml", "Cargo.lock", "CHANGELOG.md"):
        data = (project.work / name).read_bytes()
        (project.work / name).write_bytes(data.replace(b"\n", b"\r\n"))
    project.git("commit", "-qam", "chore: CRLF")
    project.push("main")

    ok(project, "release.prepare", "--version", "1.1.0")

    for name in ("Cargo.toml", "Cargo.lock", "CHANGELOG.md"):
        data = (project.work / name).read_bytes()
        assert data.count(b"\n") == data.count(b"\r\n"), name
    numstat = {  # path -> (lines added, lines deleted)
        path: (added, deleted)
        for added, deleted, path in (
            line.split("\t")
            for line in project.git("diff", "--numstat", "HEAD~1", "HEAD").splitlines()
        )
    }
    assert numstat["Cargo.toml"] == ("1", "1") and numstat["Cargo.lock"] == ("1", "1")
    assert int(numstat["CHANGELOG.md"][1]) <= 1
    assert project.git("status", "--porcelain") == ""


# 14: a workspace whose members are globs, expanded as Cargo does.
def test_workspace_member_globs_are_expanded(tmp_path: Path) -> None:
    project = make_project(tmp_path, version="1.0.0")
    project.write(
        "Cargo.toml",
        '[workspace]\nmembers = ["crates/*"]\nexclude = ["crates/skipped"]\n'
        'resolver = "2"\n\n[workspace.package]\nversion = "1.0.0"\nedition = "2021"\n',
    )
    for name in ("core", "server", "skipped"):
        project.write(
            f"crates/{name}/Cargo.toml",
            f'[package]\nname = "barycenter-{name}"\nversion.workspace = true\n',
        )
    project.write("crates/README.md", "not a crate\n")
    lock = "version = 3\n" + "".join(
        f'\n[[package]]\nname = "barycenter-{name}"\nversion = "1.0.0"\n'
        for name in ("core", "server")
    )
    project.write("Cargo.lock", lock)
    project.git("add", ".")
    project.git("commit", "-qm", "feat: split into crates")
    project.push("main")

    ok(project, "release.prepare", "--version", "1.1.0")

    assert 'version = "1.1.0"' in project.git("show", "HEAD:Cargo.toml")
    assert project.git("show", "HEAD:Cargo.lock").count('version = "1.1.0"') == 2


# 14: --repo a subdirectory uses the enclosing repository.
def test_repo_pointing_at_a_subdirectory_uses_the_enclosing_repository(project: Project) -> None:
    sub = Project(project.origin, project.work / "src")
    assert ok(sub, "release.notes") == ok(project, "release.notes")
    ok(sub, "release.prepare", "--version", "1.1.0", "--dry-run")
    ok(sub, "release.prepare", "--version", "1.1.0")
    assert project.version("HEAD") == "1.1.0"
    assert project.git("status", "--porcelain") == ""


def test_a_repository_that_is_not_barycenters_is_refused_and_the_named_fix_works(
    tmp_path: Path,
) -> None:
    """--repo at the top level of another project (its own origin and history): one line,
    nothing changed, and a --repo as the line says prepares the release."""
    (tmp_path / "other").mkdir()
    (tmp_path / "barycenter").mkdir()
    other = make_project(tmp_path / "other")
    other.git("rm", "-q", "pyproject.toml")
    other.git("commit", "-q", "-m", "chore: not barycenter")
    other.push("main")
    assert refused(other, "release.prepare", "--version", "0.2.0", "--dry-run") == [
        f"error: no pyproject.toml in {other.work}: pass --repo the top level of Barycenter's "
        "checkout, which holds pyproject.toml and Cargo.toml"
    ]
    barycenter = make_project(tmp_path / "barycenter")
    dry = barycenter.invoke("release.prepare", "--version", "0.2.0", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr


@pytest.mark.parametrize(
    ("where", "image"),
    [("--image", "127.0.0.1:5000/hb:tag"), ("config", "127.0.0.1:5000/UPPER")],
)
def test_an_image_that_is_no_repository_is_refused_before_git_is_asked(
    project: Project, where: str, image: str
) -> None:
    """No remote read, no step: the dry run would plan pushes to `hb:tag:v1.1.0`."""
    project.git("remote", "set-url", "origin", "/nonexistent/origin.git")
    if where == "config":
        pyproject = (project.work / "pyproject.toml").read_text()
        project.write("pyproject.toml", pyproject + f'image = "{image}"\n')
        project.git("commit", "-qam", "chore: image")
        args: tuple[str, ...] = ("release", "--version", "1.1.0", "--dry-run")
        given_as = f"image in {project.work / 'pyproject.toml'}"
    else:
        args = ("release", "--version", "1.1.0", "--dry-run", "--image", image)
        given_as = "--image"
    assert refused(project, *args) == [
        f"error: {given_as} {image!r} is not an image repository: write it as "
        "HOST[:PORT]/PATH, the path in lowercase, with no tag nor digest (the release adds its "
        "own), e.g. ghcr.io/barycenter-oidc/barycenter"
    ]


def test_status_with_github_unreachable_asks_each_row_once_and_says_so(project: Project) -> None:
    """release.status only reads: a GitHub it cannot reach is each GitHub row's answer, after
    one attempt each (the steps that act wait and retry: 15 s a row)."""
    configured(project, 'github-api-url = "http://127.0.0.1:9"')  # nothing listens there
    token = "ghp_status-token-value"  # noqa: S105 - a made-up token, to see it never shown

    result = project.invoke(
        "release.status", "--version", "1.1.0", "--format", "json", env={"GITHUB_TOKEN": token}
    )

    assert result.returncode == 0, result.stderr
    rows = {row["step"]: row for row in json.loads(result.stdout)["steps"]}
    assert rows["github"]["state"] == "to do"
    assert rows["github"]["detail"] == (
        "cannot tell: GitHub failed listing the releases of barycenter-oidc/barycenter (page 1) "
        "once (connection: ConnectError): "
        "GitHub may be unavailable; run again later, a rerun resumes"
    )
    assert "waiting" not in result.stderr  # no retry waited out
    # Not tagged yet: a reason that every platform shares is said once.
    assert rows["build"]["detail"] == rows["binaries"]["detail"] == "v1.1.0 does not exist yet"
    assert token not in result.stdout + result.stderr
