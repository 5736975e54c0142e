"""The next version from the commits, on a real history: for each release tag, what
`invoke release.notes --bump` and `git cliff --bumped-version` say the release after the
previous tag would be, beside the version its maintainers chose.

    python tests/bench/bump_compare.py /path/to/repository [--last 20]

Each release N is replayed in a scratch clone: the tags above the previous release P are
removed and main is set to N's commit, so both tools see what a maintainer saw just before
tagging N. git-cliff runs with its default configuration (`git cliff --init`), whose bump
rules are features_always_bump_minor and breaking_always_bump_major.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import semver

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def releases(repo: Path) -> list[tuple[semver.Version, str]]:
    found = []
    for name in git(repo, "tag", "--list", "v*").split():
        try:
            version = semver.Version.parse(name[1:])
        except ValueError:
            continue
        found.append((version, name))
    return sorted(found)


def tool(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return "error: " + (result.stderr.strip().splitlines() or ["?"])[-1][:60]
    return result.stdout.strip().removeprefix("v")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument("--last", type=int, default=20, help="the last N releases")
    arguments = parser.parse_args()
    tags = releases(arguments.repository)
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "clone"
        subprocess.run(
            ["git", "clone", "-q", "--no-checkout", str(arguments.repository), str(clone)],
            check=True,
        )
        config = Path(scratch) / "cliff.toml"
        subprocess.run([str(BIN / "git-cliff"), "--init"], cwd=scratch, check=True)
        print("| release | previous | chosen | release.notes --bump | git cliff --bumped-version |")
        print("|---|---|---|---|---|")
        agree = [0, 0]
        for (previous, previous_tag), (version, tag) in list(itertools.pairwise(tags))[
            -arguments.last :
        ]:
            replay = Path(scratch) / tag
            shutil.rmtree(replay, ignore_errors=True)
            subprocess.run(
                ["git", "clone", "-q", "--no-checkout", str(clone), str(replay)], check=True
            )
            for other, name in tags:
                if other > previous:
                    git(replay, "tag", "-d", name)
            commit = git(clone, "rev-parse", f"{tag}^{{commit}}")
            git(replay, "checkout", "-q", "-B", "main", commit)
            ours = tool(
                [
                    str(BIN / "invoke"),
                    "-r",
                    str(ROOT),
                    "release.notes",
                    "--bump",
                    "--repo",
                    str(replay),
                ],
                replay,
            )
            cliff = tool(
                [str(BIN / "git-cliff"), "--config", str(config), "--bumped-version"], replay
            )
            agree[0] += ours == str(version)
            agree[1] += cliff == str(version)
            print(f"| {tag} | {previous_tag} | {version} | {ours} | {cliff} |")
            shutil.rmtree(replay)
        print(f"\nagree with the maintainers: ours {agree[0]}, git-cliff {agree[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
