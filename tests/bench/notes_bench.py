"""Benchmark: release notes and changelogs on synthetic histories, side by side.

Run by `nox -s bench`. Builds 1.5k-, 5k- and 50k-commit histories with
../shared/bench/make_history.py (deterministic), then times, in one run, this project's notes
and changelog, git-cliff and a raw `git log`: the unreleased range and the full history, median
wall time of several runs and the peak resident memory of each process; and `invoke --list`.
Then it prints the start-up goals beside their measured figures, each through `invoke` as a
maintainer runs it: `invoke --list` and notes on 1.5k commits in a fraction of a second,
unreleased notes on 50k no slower than git-cliff, the cold full changelog within 2x `git log`.

`nox -s bench -- --repo PATH ...` runs on real clones instead (each with its `tag-prefix` in a
pyproject.toml when not `v`): for each, the tag count, whether every release's `--full`
section equals its `release.notes --version X`, and the full changelog cold, cached and by
git-cliff (`--tag-pattern '^PREFIX[0-9]'`, three runs: it takes a while on big histories).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".bench"
MAKE_HISTORY = Path(
    os.environ.get("BARYCENTER_MAKE_HISTORY", ROOT.parent / "shared" / "bench" / "make_history.py")
)
SIZES = {"1.5k": 1_500, "5k": 5_000, "50k": 50_000}
RUNS = {"1.5k": 7, "5k": 7, "50k": 5}
INVOKE = [sys.executable, "-m", "invoke", "-r", str(ROOT)]
LOG = "--format=%H%x1f%s%x1f%b%x1e"
# Python as a maintainer runs it: byte code cached (the warm-up run writes it). An environment
# that forbids writing it (PYTHONDONTWRITEBYTECODE, set in some CI and sandboxes) would time
# compiling every module of the project at each run instead.
AS_USERS_RUN_IT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Measurement:
    history: str
    task: str
    tool: str
    median_s: float
    min_s: float
    peak_rss_mb: float
    output_bytes: int


def history(name: str, commits: int) -> Path:
    target = WORK / f"history-{name}"
    marker = target / ".git" / "bench-complete"
    if not marker.exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(
            [sys.executable, str(MAKE_HISTORY), "--commits", str(commits), "--out", str(target)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        marker.write_text("ok\n")
    return target


def run_once(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and output size of one run of argv."""
    started = time.perf_counter()
    with subprocess.Popen(
        argv, cwd=cwd, env=AS_USERS_RUN_IT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as p:
        assert p.stdout is not None
        size = len(p.stdout.read())
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if p.returncode != 0:
        raise SystemExit(f"benchmark command failed ({p.returncode}): {' '.join(argv)}")
    return elapsed, usage.ru_maxrss / 1024, size


def measure(name: str, task: str, tool: str, argv: list[str], cwd: Path) -> Measurement:
    run_once(argv, cwd)  # warm the page cache and .pyc files; not counted
    samples = [run_once(argv, cwd) for _ in range(RUNS[name])]
    times = [s[0] for s in samples]
    return Measurement(
        name,
        task,
        tool,
        statistics.median(times),
        min(times),
        max(s[1] for s in samples),
        samples[0][2],
    )


def commands(repo: Path) -> dict[tuple[str, str], list[str]]:
    last_tag = subprocess.run(
        ["git", "-C", str(repo), "describe", "--tags", "--abbrev=0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    python = sys.executable
    cliff = shutil.which("git-cliff") or "git-cliff"
    changelog = [python, "-m", "release.changelog_from_history", "--full", "--output", "-"]
    changelog += ["--repo", str(repo)]
    return {
        ("unreleased notes", "barycenter (python -m release.notes)"): [
            python,
            "-m",
            "release.notes",
            "--repo",
            str(repo),
        ],
        ("unreleased notes", "barycenter (invoke release.notes)"): [
            *INVOKE,
            "release.notes",
            "--repo",
            str(repo),
        ],
        ("unreleased notes", "git-cliff --unreleased"): [
            cliff,
            "--unreleased",
            "--repository",
            str(repo),
        ],
        ("unreleased notes", "git log"): ["git", "-C", str(repo), "log", LOG, f"{last_tag}..HEAD"],
        ("full changelog", "barycenter, cold (--no-cache)"): [*changelog, "--no-cache"],
        ("full changelog", "barycenter, cold (invoke release.changelog)"): [
            *INVOKE,
            "release.changelog",
            "--full",
            "--no-cache",
            "--output",
            "-",
            "--repo",
            str(repo),
        ],
        ("full changelog", "barycenter, released ranges cached"): changelog,
        ("full changelog", "git-cliff"): [cliff, "--repository", str(repo)],
        ("full changelog", "git log"): ["git", "-C", str(repo), "log", LOG],
    }


# The start-up goals: (history, task, tool) against (history, task, tool) or seconds, at most.
GOALS: list[tuple[str, tuple[str, str, str], tuple[str, str, str] | float, float]] = [
    ("invoke --list <= 0.25 s", ("-", "list tasks", "invoke --list"), 0.25, 1.0),
    (
        "invoke release.notes on 1.5k commits <= 0.3 s",
        ("1.5k", "unreleased notes", "barycenter (invoke release.notes)"),
        0.3,
        1.0,
    ),
    (
        "unreleased notes on 50k <= git-cliff",
        ("50k", "unreleased notes", "barycenter (invoke release.notes)"),
        ("50k", "unreleased notes", "git-cliff --unreleased"),
        1.0,
    ),
    (
        "cold full changelog on 50k <= 2x git log",
        ("50k", "full changelog", "barycenter, cold (invoke release.changelog)"),
        ("50k", "full changelog", "git log"),
        2.0,
    ),
]


def goals(results: list[Measurement]) -> Table:
    by_key = {(m.history, m.task, m.tool): m.median_s for m in results}
    table = Table(title="start-up goals (medians, through invoke)")
    for column in ("goal", "measured", "against", "holds"):
        table.add_column(column)
    for goal, ours, theirs, factor in GOALS:
        measured = by_key[ours]
        bound = theirs if isinstance(theirs, float) else by_key[theirs]
        table.add_row(
            goal,
            f"{measured:.3f} s",
            f"{bound:.3f} s x {factor:g}",
            str(measured <= bound * factor),
        )
    return table


def sections_equal_notes(repo: Path) -> tuple[int, int]:
    """(releases, releases whose `--full` section differs from their notes)."""
    from release.changelog import section_body
    from release.changelog_from_history import regenerate
    from release.config import load_config
    from release.history import release_tags
    from release.notes import group_sections, notes_for

    config = load_config(repo, missing_ok=True)
    text = regenerate(repo, full=True, use_cache=False)
    versions = sorted(release_tags(repo, config.tag_prefix))
    differ = sum(
        section_body(text, v) != group_sections(notes_for(repo, str(v), config), config.source_url)
        for v in versions
    )
    return len(versions), differ


def real_histories(repos: list[Path]) -> int:
    """Each clone's tag count, its sections against its notes, and full-changelog times."""
    from release.config import load_config

    python, cliff = sys.executable, shutil.which("git-cliff") or "git-cliff"
    table = Table(title="real histories: full changelog, median wall seconds")
    for column in ("repository", "tags", "sections == notes", "cold", "cached", "git-cliff"):
        table.add_column(column)
    for repo in repos:
        prefix = load_config(repo, missing_ok=True).tag_prefix
        releases, differ = sections_equal_notes(repo)
        build = [python, "-m", "release.changelog_from_history", "--full", "--output", "-"]
        build += ["--repo", str(repo)]
        RUNS["real"] = 5
        cold = measure("real", "full", "cold", [*build, "--no-cache"], ROOT)
        cached = measure("real", "full", "cached", build, ROOT)
        RUNS["real"] = 3
        pattern = f"^{re.escape(prefix)}[0-9]"
        theirs = measure(
            "real", "full", "git-cliff", [cliff, "-r", str(repo), "--tag-pattern", pattern], ROOT
        )
        tags = subprocess.run(
            ["git", "-C", str(repo), "tag"], capture_output=True, text=True, check=True
        ).stdout.split()
        table.add_row(
            repo.name,
            f"{len(tags)} ({releases} releases)",
            "yes" if differ == 0 else f"no ({differ} differ)",
            f"{cold.median_s:.2f}",
            f"{cached.median_s:.2f}",
            f"{theirs.median_s:.2f}",
        )
    Console(width=160).print(table)
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--repo"]:
        return real_histories([Path(path).resolve() for path in sys.argv[2:]])
    WORK.mkdir(exist_ok=True)
    if not MAKE_HISTORY.exists():
        raise SystemExit(
            f"{MAKE_HISTORY} is missing: set BARYCENTER_MAKE_HISTORY to make_history.py"
        )
    RUNS["-"] = 7
    results = [measure("-", "list tasks", "invoke --list", [*INVOKE, "--list"], ROOT)]
    for name, size in SIZES.items():
        repo = history(name, size)
        for (task, tool), argv in commands(repo).items():
            results.append(measure(name, task, tool, argv, ROOT))
    table = Table(title="release notes and changelogs, median of several runs (peak RSS: max)")
    for column in ("history", "task", "tool", "median s", "min s", "peak RSS MB", "output KB"):
        table.add_column(column, justify="right" if column[0] in "mpo" else "left")
    for m in results:
        table.add_row(
            m.history,
            m.task,
            m.tool,
            f"{m.median_s:.3f}",
            f"{m.min_s:.3f}",
            f"{m.peak_rss_mb:.0f}",
            f"{m.output_bytes / 1024:.0f}",
        )
    Console(width=160).print(table)
    Console(width=160).print(goals(results))
    (WORK / "results.json").write_text(json.dumps([asdict(m) for m in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
