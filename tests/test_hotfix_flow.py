"""invoke hotfix X and invoke hotfix.finish on real repositories with main, develop and origin."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitrepos import Project, git, make_project, refused

pytestmark = pytest.mark.repo


def ok(project: Project, *args: str) -> str:
    result = project.invoke(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def bump_develop(project: Project, version: str) -> None:
    for name in ("Cargo.toml", "Cargo.lock"):
        text = (project.work / name).read_text()
        project.write(
            name, text.replace(f'version = "{project.version()}"', f'version = "{version}"')
        )
    project.git("commit", "-qam", f"chore: start {version} development")


def setup(tmp_path: Path, config: str = "") -> Project:
    """v1.2.0 released from main; develop merged it and moved on to 1.3.0-dev.0."""
    project = make_project(tmp_path, config=config)
    project.commit("feat: authorization code flow (#40)", "src/auth.txt", "auth v1\n")
    project.push("main")
    ok(project, "release.prepare", "--version", "1.2.0")
    ok(project, "release.tag", "--version", "1.2.0")
    project.git("switch", "-q", "develop")
    project.git("merge", "-q", "--ff-only", "main")
    bump_develop(project, "1.3.0-dev.0")
    changelog = (project.work / "CHANGELOG.md").read_text()
    project.write(
        "CHANGELOG.md",
        changelog.replace("## [Unreleased]\n", "## [Unreleased]\n\n### Added\n\n- Device flow.\n"),
    )
    project.commit("feat: device code flow (#45)", "src/device.txt", "device\n")
    project.git("commit", "-qam", "docs: changelog entry for the device flow")
    project.push("develop")
    project.git("switch", "-q", "main")
    return project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return setup(tmp_path)


def test_hotfix_starts_from_the_latest_release_of_its_line(project: Project) -> None:
    out = ok(project, "hotfix", "1.2.1")
    assert "hotfix.start 1.2.1" in out
    assert project.git("branch", "--show-current") == "hotfix/1.2.1"
    assert project.git("rev-parse", "HEAD") == project.git("rev-parse", "v1.2.0^{commit}")
    assert git(project.origin, "branch", "--list", "hotfix/*") == ""


def test_push_publishes_the_hotfix_branch(project: Project) -> None:
    ok(project, "hotfix", "1.2.1", "--push")
    assert git(project.origin, "rev-parse", "hotfix/1.2.1") == project.git(
        "rev-parse", "v1.2.0^{commit}"
    )


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (
            "1.3.1",
            "error: there is no 1.3 release line to hotfix: release 1.3.0 first, or hotfix an "
            "existing line, such as 1.2.1",
        ),
        (
            "1.1.1",
            "error: there is no 1.1 release line to hotfix: hotfix an existing line, such as 1.2.1",
        ),
        (
            "1.3.0",
            "error: hotfix 1.3.0 is not a patch: a .0 version is a release: release it with "
            "invoke release --version 1.3.0, or hotfix an existing line, such as 1.2.1",
        ),
        (
            "1.1.0",
            "error: hotfix 1.1.0 is not a patch: a .0 version is a release: hotfix an existing "
            "line, such as 1.2.1",
        ),
        ("1.2.2", "error: hotfix 1.2.2 skips patches after 1.2.0: use 1.2.1, or pass --force"),
        ("1.2.0", "error: tag v1.2.0 already exists: choose the next patch of the line"),
        ("1.2.1-rc.1", "error: hotfix 1.2.1-rc.1 is a pre-release"),
        ("1.2", "error: version '1.2' is not SemVer 2.0.0"),
    ],
)
def test_hotfixes_that_do_not_fit_a_line_are_refused(
    project: Project, version: str, message: str
) -> None:
    lines = refused(project, "hotfix", version)
    assert len(lines) == 1 and lines[0].startswith(message), lines


def test_an_existing_hotfix_branch_is_refused(project: Project) -> None:
    ok(project, "hotfix", "1.2.1", "--push")
    project.git("switch", "-q", "main")
    project.git("branch", "-D", "hotfix/1.2.1")
    lines = refused(project, "hotfix", "1.2.1")
    assert lines == [
        "error: branch hotfix/1.2.1 already exists on origin: "
        "git switch --track origin/hotfix/1.2.1 after git fetch origin"
    ]


@pytest.mark.parametrize("made_from", ["develop", "main", "a later release"])
def test_a_hotfix_branch_holding_the_next_releases_work_is_refused_and_the_fix_works(
    project: Project, made_from: str
) -> None:
    """hotfix/X made by hand from develop, from main carrying unreleased work, or from main at
    a later release holds commits that are not its line's: taking it over, or finishing it,
    would ship them as a patch."""
    if made_from == "main":
        project.commit("feat: pushed to main, in no release yet (#50)", "src/main.txt", "m\n")
        project.push("main")
    if made_from == "a later release":
        project.commit("feat: released in 1.3.0 (#51)", "src/later.txt", "l\n")
        project.push("main")
        ok(project, "release.prepare", "--version", "1.3.0")
        ok(project, "release.tag", "--version", "1.3.0")
        made_from = "main"
    project.git("switch", "-q", "-c", "hotfix/1.2.1", made_from)
    fix = project.commit("fix: prevent double consumption of authorization codes (#43)")
    project.git("switch", "-q", "main")
    foreign = {
        "develop": "docs: changelog entry for the device flow",
        "main": "feat: pushed to main, in no release yet (#50)",
    }[made_from]
    if project.git("tag", "--list", "v1.3.0"):
        foreign = "chore(release): v1.3.0"

    for args in (("hotfix", "1.2.1"), ("hotfix.finish", "--version", "1.2.1")):
        # Finishing from main's unreleased work also says that main holds it: every problem.
        ours = [line for line in refused(project, *args) if "hotfix/1.2.1 holds" in line]
        count = 2 if "1.3.0" in foreign else {"develop": 3, "main": 1}[made_from]
        assert len(ours) == 1, ours
        assert ours[0].startswith(
            f"error: hotfix/1.2.1 holds {count} commit(s) of main or develop that are not in "
            "v1.2.0 ("
        )
        assert foreign in ours[0]
        assert ours[0].endswith(
            "a hotfix branch starts at v1.2.0 and holds only fixes; git branch -m hotfix/1.2.1 "
            "unreleased/1.2.1 (and git push origin --delete hotfix/1.2.1 if it was pushed), then "
            "invoke hotfix 1.2.1 and git cherry-pick the fixes onto it"
        )
    if made_from == "main":
        return  # main itself then holds unreleased work: finishing says so (tested elsewhere)
    # What the line says, done.
    project.git("branch", "-m", "hotfix/1.2.1", "unreleased/1.2.1")
    ok(project, "hotfix", "1.2.1")
    project.git("cherry-pick", fix)
    ok(project, "hotfix.finish")
    assert project.git("log", "--format=%s", "v1.2.0..v1.2.1") == "\n".join(
        [
            "Merge branch 'hotfix/1.2.1'",
            "chore(release): v1.2.1",
            "fix: prevent double consumption of authorization codes (#43)",
        ]
    )


def test_force_skips_a_patch_on_purpose(project: Project) -> None:
    ok(project, "hotfix", "1.2.2", "--force")
    assert project.git("branch", "--show-current") == "hotfix/1.2.2"


def test_finishing_without_a_fix_is_refused(project: Project) -> None:
    ok(project, "hotfix", "1.2.1")
    lines = refused(project, "hotfix.finish")
    assert lines == ["error: hotfix/1.2.1 has no commit beyond v1.2.0: commit the fix first"]


@pytest.mark.parametrize("task", ["hotfix.start", "hotfix.finish"])
def test_dry_run_lists_the_git_actions_and_changes_nothing(project: Project, task: str) -> None:
    if task == "hotfix.finish":
        ok(project, "hotfix", "1.2.1")
        project.commit(
            "fix: prevent double consumption of authorization codes (#43)",
            "src/auth.txt",
            "auth v2\n",
        )
        args = ["hotfix.finish", "--dry-run"]
    else:
        args = ["hotfix", "1.2.1", "--dry-run"]
    before = project.state()
    out = ok(project, *args)
    assert project.state() == before
    if task == "hotfix.start":
        assert "would git switch -c hotfix/1.2.1 v1.2.0" in out
    else:
        for action in (
            "would git merge --no-ff hotfix/1.2.1",
            "would git tag -a v1.2.1 main",
            "would git push --atomic origin refs/heads/main refs/tags/v1.2.1",
            "would git switch develop",
            "would git push origin develop",
            "would git branch -D hotfix/1.2.1",
        ):
            assert action in out, out
        assert "--delete hotfix/1.2.1" not in out  # never pushed: nothing to delete there


def test_dry_run_deletes_a_published_hotfix_branch_where_it_is(project: Project) -> None:
    ok(project, "hotfix", "1.2.1", "--push")
    project.commit("fix: refuse reused authorization codes (#43)", "src/auth.txt", "auth v2\n")
    project.push("hotfix/1.2.1")

    out = ok(project, "hotfix.finish", "--dry-run")

    remote = out.index("would git push origin --delete hotfix/1.2.1")
    assert remote < out.index("would git branch -D hotfix/1.2.1")  # the order run keeps


def test_the_whole_hotfix_flow(project: Project) -> None:
    ok(project, "hotfix", "1.2.1", "--push")
    project.commit(
        "fix: prevent double consumption of authorization codes (#43)", "src/auth.txt", "auth v2\n"
    )

    out = ok(project, "hotfix.finish")

    tag_commit = project.git("rev-parse", "v1.2.1^{commit}")
    # main: a --no-ff merge of the hotfix, tagged, pushed together with the tag.
    assert project.git("rev-parse", "main") == tag_commit
    assert len(project.git("rev-list", "--parents", "-1", "main").split()) == 3
    assert project.version("main") == "1.2.1"
    assert git(project.origin, "rev-parse", "main", "v1.2.1^{commit}").splitlines() == [
        tag_commit,
        tag_commit,
    ]
    # develop: has the fix, keeps its own higher version, and the changelog in version order.
    assert project.git("merge-base", "--is-ancestor", "v1.2.1", "develop", check=False) == ""
    assert project.git("show", "develop:src/auth.txt") == "auth v2"
    assert project.version("develop") == "1.3.0-dev.0"
    changelog = project.git("show", "develop:CHANGELOG.md")
    assert (
        changelog.index("- Device flow.")
        < changelog.index("## [1.2.1]")
        < changelog.index("## [1.2.0]")
    )
    assert git(project.origin, "rev-parse", "develop") == project.git("rev-parse", "develop")
    # the hotfix branch is gone, here and on the remote.
    assert project.git("branch", "--list", "hotfix/*") == ""
    assert git(project.origin, "branch", "--list", "hotfix/*") == ""
    assert "- merge-develop: merge the release back into develop" in out


def test_a_back_merge_conflict_stops_and_a_second_finish_continues(project: Project) -> None:
    project.git("switch", "-q", "develop")
    project.commit("refactor: rework the auth module", "src/auth.txt", "auth reworked\n")
    project.push("develop")
    ok(project, "hotfix", "1.2.1")
    project.commit(
        "fix: prevent double consumption of authorization codes (#43)", "src/auth.txt", "auth v2\n"
    )

    stopped = project.invoke("hotfix.finish")

    assert stopped.returncode == 1
    assert stopped.stderr.strip().splitlines() == [
        "error: merging v1.2.1 into develop stopped on conflicts in src/auth.txt: resolve them, "
        "git add them, git commit, then run invoke hotfix.finish --version 1.2.1 again"
    ]
    # What could be done is done: main and the tag are out; develop waits for the maintainer.
    assert git(project.origin, "rev-parse", "v1.2.1^{commit}") == project.git("rev-parse", "main")
    assert project.git("branch", "--show-current") == "develop"
    assert project.git("diff", "--name-only", "--diff-filter=U") == "src/auth.txt"

    project.write("src/auth.txt", "auth reworked, with the fix\n")
    project.git("add", "src/auth.txt")
    project.git("commit", "-q", "--no-edit")
    resumed = project.invoke("hotfix.finish", "--version", "1.2.1")

    assert resumed.returncode == 0, resumed.stderr
    for finished in ("prepare", "merge-main", "tag", "push"):
        assert f"= {finished}: already done" in resumed.stdout
    assert git(project.origin, "show", "develop:src/auth.txt") == "auth reworked, with the fix"
    assert project.version("develop") == "1.3.0-dev.0"
    assert project.git("branch", "--list", "hotfix/*") == ""


def test_keep_branch_keeps_the_hotfix_branch(project: Project) -> None:
    ok(project, "hotfix", "1.2.1", "--push")
    project.commit("fix: token reuse (#50)", "src/auth.txt", "auth v2\n")
    ok(project, "hotfix.finish", "--keep-branch")
    assert project.git("branch", "--list", "hotfix/1.2.1").strip() == "hotfix/1.2.1"
    assert git(project.origin, "branch", "--list", "hotfix/1.2.1").strip() == "hotfix/1.2.1"


def test_unreleased_work_on_main_refuses_the_merge(project: Project) -> None:
    project.commit("feat: merged to main by mistake", "src/stray.txt", "stray\n")
    project.push("main")
    ok(project, "hotfix", "1.2.1")
    project.commit("fix: token reuse (#50)", "src/auth.txt", "auth v2\n")

    lines = refused(project, "hotfix.finish")

    assert len(lines) == 1
    assert "'main' carries 1 commit(s) in no release" in lines[0]
    assert "set hotfix-tag-on-branch = true" in lines[0]


def test_configured_to_tag_the_branch_when_main_has_unreleased_work(tmp_path: Path) -> None:
    project = setup(tmp_path, config="hotfix-tag-on-branch = true")
    project.commit("feat: merged to main by mistake", "src/stray.txt", "stray\n")
    project.push("main")
    main_before = project.git("rev-parse", "main")
    ok(project, "hotfix", "1.2.1")
    fix = project.commit("fix: token reuse (#50)", "src/auth.txt", "auth v2\n")

    ok(project, "hotfix.finish")

    assert project.git("rev-parse", "main") == main_before
    tagged = project.git("rev-parse", "v1.2.1^{commit}")
    assert project.git("rev-parse", f"{tagged}^") == fix
    assert git(project.origin, "rev-parse", "v1.2.1^{commit}") == tagged
    assert git(project.origin, "rev-parse", "hotfix/1.2.1") == tagged


def test_configured_to_tag_the_branch_but_main_holds_released_code_only(tmp_path: Path) -> None:
    # hotfix-tag-on-branch only matters when main carries unreleased work: here it does not, so
    # the hotfix merges into main, is tagged there and pushed with main, like any hotfix.
    project = setup(tmp_path, config="hotfix-tag-on-branch = true")
    ok(project, "hotfix", "1.2.1")
    project.commit("fix: token reuse (#50)", "src/auth.txt", "auth v2\n")

    out = ok(project, "hotfix.finish")

    assert "- merge-main: merge the hotfix into main" in out
    tagged = project.git("rev-parse", "v1.2.1^{commit}")
    assert project.git("rev-parse", "main") == tagged
    assert len(project.git("rev-list", "--parents", "-1", "main").split()) == 3
    assert git(project.origin, "rev-parse", "main") == tagged
    assert git(project.origin, "rev-parse", "v1.2.1^{commit}") == tagged
    assert project.git("status", "--porcelain") == ""
    assert project.git("branch", "--list", "hotfix/*") == ""


def test_a_hotfix_of_an_older_line_is_tagged_on_its_branch_and_main_stays(tmp_path: Path) -> None:
    project = setup(tmp_path)
    project.commit("feat: more (#60)", "src/more.txt", "more\n")
    project.push("main")
    ok(project, "release.prepare", "--version", "1.3.0")
    ok(project, "release.tag", "--version", "1.3.0")
    main_before = project.git("rev-parse", "main")
    ok(project, "hotfix", "1.2.1")
    project.commit("fix: token reuse (#50)", "src/auth.txt", "auth v2\n")

    ok(project, "hotfix.finish")

    assert project.git("rev-parse", "main") == main_before
    assert project.version("v1.2.1") == "1.2.1"
    assert git(project.origin, "rev-parse", "v1.2.1^{commit}") == project.git(
        "rev-parse", "hotfix/1.2.1"
    )
