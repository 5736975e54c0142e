"""The tool's own overhead in a whole `invoke release` on the local stack: wall time against
the time git, docker and cosign child processes run (their intervals' union, since platform
builds run concurrently). Run: python tests/bench/overhead.py (needs `invoke stack.up`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devstack.github_standin import GitHubStandIn
from tests.release_sandbox import make_sandbox, new_token

HOOK = Path(__file__).resolve().parent / "overhead_hook"


def union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def main() -> int:
    token = new_token()
    with (
        tempfile.TemporaryDirectory() as scratch,
        GitHubStandIn("barycenter-oidc/barycenter", token) as standin,
    ):
        sandbox = make_sandbox(Path(scratch), standin, token, develop=True)
        log = Path(scratch) / "children.log"
        environment = {
            **sandbox.environment(),
            "BARYCENTER_OVERHEAD_LOG": str(log),
            "PYTHONPATH": os.pathsep.join([str(HOOK), os.environ.get("PYTHONPATH", "")]),
        }
        started = time.monotonic()
        result = subprocess.run(
            sandbox.argv("release", "--version", "0.9.0"),
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - started
        if result.returncode != 0:
            print(result.stdout + result.stderr)
            return 1
        rows = [line.split() for line in log.read_text().splitlines()]
        children = union([(float(a), float(b)) for a, b, _ in rows])
        by_tool: dict[str, int] = {}
        for _, _, name in rows:
            by_tool[name] = by_tool.get(name, 0) + 1
        # Python's own start-up (imports) runs before any child: it is the tool's time too.
        overhead = wall - children
        print(f"wall {wall:.1f} s; child processes {children:.1f} s ({len(rows)}: {by_tool})")
        print(f"tool overhead {overhead:.1f} s = {100 * overhead / wall:.1f} % of the wall time")
        print("(HTTP calls to the GitHub stand-in and the registry are counted as the tool's)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
