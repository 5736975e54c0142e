"""What each task does, called by tasks.py with parsed arguments: plan, then run a slice.

`invoke --list` imports this module: the pipeline and its steps (docker, GitHub, cosign
clients) are imported by the functions that run them, so listing the tasks stays instant.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from invoke.exceptions import Exit

from release.errors import InterruptionError, ReleaseError, Terminated, interrupted_status
from release.options import HotfixOptions, ReleaseOptions

if TYPE_CHECKING:
    from release.plan import Plan
    from release.steps import Status

T = TypeVar("T")


def say(line: str) -> None:
    print(line, flush=True)


def run_slice(task: str, repo: Path, options: ReleaseOptions | HotfixOptions) -> Status | None:
    """Plan and run the task's slice; the status it stopped at when it waits for someone."""
    from release import pipeline, runner
    from release.plan import make_plan

    stages = pipeline.SLICES[task]
    plan = make_plan(repo, options, frozenset(stages))
    return runner.run(plan, pipeline.steps_of(stages), say, f"{task} {plan.version}")


def interactive() -> bool:
    """Whether a maintainer is there to answer: a terminal both ways, and not CI."""
    in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return sys.stdin.isatty() and sys.stdout.isatty() and not in_ci


def refuse_version_choice(pre: str | None, final: bool, where: str) -> None:
    if pre is not None or final:
        raise ReleaseError(
            f"--{'pre' if pre else 'final'} does not apply with {where}",
            f"pass --version X.Y.Z, or leave {where} out",
        )


def refuse_rehearsal_only(**given: str) -> None:
    """Options that only a rehearsal takes (on GitHub a reviewer merges the pull requests)."""
    named = [name for name, value in given.items() if value]
    if named:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in named)
        raise ReleaseError(
            f"{flags} applies only with --rehearsal (on GitHub the reviewer merges)",
            f"leave {flags} out, or add --rehearsal",
        )


def proposed_version(
    repo: Path, options: ReleaseOptions, pre: str | None, final: bool, yes: bool
) -> ReleaseOptions:
    """The options with a version: the one given, else the one the commits make, shown with
    the commits that decided it and confirmed (on a terminal) or taken with --yes."""
    if options.version:
        if pre is not None or final:
            raise ReleaseError(
                f"--version {options.version} with --{'final' if final else 'pre'}: both choose "
                "the version",
                "pass --version alone, or --pre/--final without it",
            )
        return options
    from release.bump import describe, propose
    from release.config import load_config
    from release.history import toplevel

    root = toplevel(repo)
    proposal = propose(root, load_config(root), pre, final)
    for line in describe(proposal):
        say(line)
    version = str(proposal.version)
    chosen = dataclasses.replace(options, version=version)
    if yes or options.dry_run:
        return chosen
    if not interactive():
        raise ReleaseError(
            f"no --version given, and no terminal to confirm {version}",
            f"pass --version {version}, or --yes to take the proposed version",
        )
    try:
        answer = input(f"release {version}? [y/N] ").strip().lower()
    except EOFError:  # Ctrl-D: no answer is a no
        answer = ""
    if answer not in ("y", "yes"):
        raise ReleaseError(f"{version} not confirmed", "pass --version X.Y.Z for another version")
    return chosen


def next_version(repo: Path, version: str, bump: bool, pre: str | None, final: bool) -> str:
    """`release.notes --bump`: the version alone, as the commits make it."""
    from release.bump import propose
    from release.config import load_config
    from release.history import toplevel

    if not bump:
        raise ReleaseError(
            f"--{'final' if final else 'pre'} chooses the next version",
            "pass it with --bump, e.g. release.notes --bump --pre rc",
        )
    if version:
        raise ReleaseError("--bump decides the version itself", "leave out --version")
    root = toplevel(repo)
    return str(propose(root, load_config(root, missing_ok=True), pre, final).version)


def release(
    repo: Path,
    options: ReleaseOptions,
    ci: bool = False,
    pre: str | None = None,
    final: bool = False,
    yes: bool = False,
) -> None:
    options = proposed_version(repo, options, pre, final, yes)
    if not ci:
        run_slice("release", repo, options)
        return
    from release import github_release
    from release.plan import make_plan
    from release.workflow_watch import follow

    if run_slice("release.ci", repo, options) is not None:
        return  # waiting for the release pull request: no tag yet, so no run to follow
    if options.dry_run:
        say("would follow the release.yml run of the tag through the Actions API")
        return
    plan = make_plan(repo, options, frozenset())
    with github_release.client(plan) as client:
        follow(plan, say, client)


def hotfix_finish(repo: Path, options: HotfixOptions) -> None:
    if not options.version:
        from release.git import GitRepo
        from release.steps.hotfix import infer_hotfix_version

        git = GitRepo(repo)
        version = infer_hotfix_version(git.current_branch(), git.branches())
        options = HotfixOptions(**{**options.__dict__, "version": version})
    run_slice("hotfix.finish", repo, options)


def check_format(output_format: str) -> None:
    """status, verify and reproduce all spell machine-readable output `--format json`."""
    if output_format not in ("table", "json"):
        raise ReleaseError(f"unknown format {output_format!r}", "use --format table or json")


def reproduce(repo: Path, version: str, platform: str, image: str, output_format: str) -> None:
    """Rebuild the release of `version` from its tag and compare; exit 1 on any difference."""
    from release.reproduce import render
    from release.reproduce import reproduce as rebuild

    check_format(output_format)
    if not version:
        raise ReleaseError("which release?", "name it with --version, e.g. --version 1.2.0")
    report = rebuild(repo, version, platform, image)
    as_json = output_format == "json"
    print(json.dumps(report.as_json(), indent=2) if as_json else render(report), flush=True)
    if not report.reproduced:
        raise ReleaseError(
            f"{report.tag} is not reproduced ({', '.join(report.differing)})",
            "the differences are listed above",
        )


def status_rows(plan: Plan) -> list[tuple[str, str, Status]]:
    from release import pipeline
    from release.github import at_a_glance
    from release.steps import State, Status

    rows = []
    for step in pipeline.steps_of(pipeline.STATUS[plan.flow]):
        try:
            with at_a_glance():
                status = step.glance(plan)
        except ReleaseError as error:
            status = Status(State.TODO, f"cannot tell: {error}")
        rows.append((step.name, step.title, status))
    return rows


def shown(status: Status) -> str:
    """A state's detail as status shows it: what a waiting step waits for, and where."""
    return f"{status.detail} ({status.hint})" if status.hint else status.detail


def status(repo: Path, version: str, output_format: str, image: str) -> None:
    """Every step's state for the release of `version`, read from reality."""
    from release.git import GitRepo
    from release.plan import make_plan

    check_format(output_format)
    git = GitRepo(repo)
    flow_hotfix = f"hotfix/{version.removeprefix('v')}" in git.branches()
    options: ReleaseOptions | HotfixOptions = (
        HotfixOptions(version=version, image=image)
        if flow_hotfix
        else ReleaseOptions(version=version, image=image)
    )
    plan = make_plan(repo, options, frozenset())
    rows = status_rows(plan)
    if output_format == "json":
        document = {
            "version": str(plan.version),
            "tag": plan.tag,
            "flow": plan.flow,
            "steps": [
                {"step": name, "title": title, "state": s.state.value, "detail": shown(s)}
                for name, title, s in rows
            ],
        }
        print(json.dumps(document, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from release.steps import State

    table = Table(title=f"release {plan.tag} ({plan.flow})")
    for column in ("step", "state", "detail"):
        table.add_column(column)
    marks = {
        State.DONE: "done",
        State.TODO: "to do",
        State.SKIP: "does not apply",
        State.WAIT: "waiting",
    }
    for name, _title, s in rows:
        table.add_row(name, marks[s.state], shown(s))
    Console(width=160).print(table)


def rollback(repo: Path, options: ReleaseOptions, force: bool) -> None:
    """Undo the release of `options.version`: GitHub release, registry tags, git tag and commit."""
    from release import pipeline, runner
    from release.errors import PreflightError
    from release.plan import make_plan
    from release.rollback import refusals

    plan = make_plan(repo, options, frozenset({"rollback"}))
    problems = refusals(plan, force)
    if problems:
        raise PreflightError(problems)
    runner.run(plan, pipeline.steps(pipeline.ROLLBACK), say, f"release.rollback {plan.version}")


def verify(repo: Path, version: str, output_format: str, image: str) -> None:
    """The post-release checklist: a table (or JSON) of findings; exit 1 naming each failure."""
    from release.checklist import REMINDERS, failures
    from release.checklist import verify as checklist
    from release.plan import make_plan

    check_format(output_format)
    plan = make_plan(repo, ReleaseOptions(version=version, image=image), frozenset())
    findings = checklist(plan)
    if output_format == "json":
        print(
            json.dumps(
                {
                    "version": str(plan.version),
                    "checks": [f.__dict__ for f in findings],
                    "reminders": list(REMINDERS),
                },
                indent=2,
            )
        )
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"release {plan.tag}: post-release checklist")
        for column in ("check", "result", "detail"):
            table.add_column(column)
        for finding in findings:
            table.add_row(finding.check, "ok" if finding.ok else "FAILED", finding.detail)
        # A log or a pipe gets 100 columns, which the table wraps its details to fit.
        Console(width=None if sys.stdout.isatty() else 100).print(table)
        for reminder in REMINDERS:
            print(f"reminder (by hand): {reminder}")
    wrong = failures(findings)
    if wrong:
        raise ReleaseError(
            f"{len(wrong)} check(s) failed: {'; '.join(wrong)}", "fix each, then verify again"
        )


def terminated(signum: int, frame: object) -> None:
    raise Terminated


def quiet_interrupts_in_cleanup(previous: Callable[[sys.UnraisableHookArgs], object]) -> None:
    """Ctrl-C landing in an object's clean-up (a finished run's clients, as its plan is freed)
    interrupts nothing: Python would print it as a traceback, so it is dropped. So is the
    OSError Python reports for a Ctrl-C or SIGTERM that came just as the run ended and its
    handler was reset ("Signal 2 ignored due to race condition"): the run had finished."""
    late = tuple(f"Signal {signum:d} " for signum in (signal.SIGINT, signal.SIGTERM))

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        kind, value = unraisable.exc_type, unraisable.exc_value
        if kind is not None and issubclass(kind, KeyboardInterrupt):
            return
        if isinstance(value, OSError) and str(value).startswith(late):
            return
        previous(unraisable)

    sys.unraisablehook = hook


# What Ctrl-C did before a run ended and had it ignored: the next run in this process gets it
# back (invoke runs every task named on its command line in one process).
ctrl_c_before_the_end: dict[str, Any] = {}


def run(action: Callable[[], T]) -> T:
    """Run a task body: a ReleaseError becomes its lines on stderr and exit status 1; any other
    exception one line with a hint, unless --debug asks for the traceback. Ctrl-C and SIGTERM
    (how CI runners cancel a job) stop it alike: one line, status 130 or 143."""
    main = threading.current_thread() is threading.main_thread()
    if main:
        if "handler" in ctrl_c_before_the_end:
            signal.signal(signal.SIGINT, ctrl_c_before_the_end.pop("handler"))
        ctrl_c = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGTERM, terminated)
    previous_hook = sys.unraisablehook
    quiet_interrupts_in_cleanup(previous_hook)
    try:
        try:
            return action()
        finally:
            # Done, failed or stopped, the run has ended: a Ctrl-C now has nothing left to
            # stop. Pressed again while the error is said or Python exits, it would turn the
            # status and the one line into a traceback, a silent status 1 (invoke's own
            # catch), or a death by SIGINT once Python has reset its handlers. First thing
            # here, before any call that could raise a Ctrl-C already received.
            # SIGTERM (a CI runner's cancel) does again what it does by default: it ends the
            # process, with its own status and no traceback.
            if main:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                ctrl_c_before_the_end["handler"] = ctrl_c
    except InterruptionError as error:
        raise Exit(f"error: {error}", code=error.code) from None
    except ReleaseError as error:
        lines = str(error).splitlines() or ["failed"]
        raise Exit("\n".join(f"error: {line}" for line in lines), code=1) from None
    except KeyboardInterrupt as interrupt:
        raise Exit(
            "error: interrupted: run the same command again; it continues where it stopped",
            code=interrupted_status(interrupt),
        ) from None
    except Exception as error:
        if "--debug" in sys.argv or "-d" in sys.argv:
            raise
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            where = f" writing {error.filename}" if error.filename else ""
            raise Exit(
                f"error: the disk is full{where}: free space there, then run the same "
                "command again",
                code=1,
            ) from None
        kind = type(error).__name__
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise Exit(
            f"error: unexpected {kind}: {first[:200]}: run it again with invoke --debug "
            "for the traceback, and report it",
            code=1,
        ) from None
    finally:
        sys.unraisablehook = previous_hook
