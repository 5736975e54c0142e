"""`nox -s tests` without arguments: the stack tests, two files at a time, with the tests that
need no stack beside them on one core, rather than before them on every core.

One stack file at a time keeps two cores only about three quarters busy: much of it waits (on
act's containers, registries, timeouts that a fault-matrix point must reach). So the stack
files run on two pytest-xdist workers (`--dist loadfile`, the `alone` files first, then the
longest first), taking turns on the engine (tests/engine_turns.py: a test marked
`restarts_engine`, and a file marked `alone`, run with no other stack test beside them). The
other suite runs beside at a lower priority (nice 10): it fills what the stack suite leaves idle
instead of taking a core its builds would have used, since the stack suite is the longer one.
The stack suite prints to the terminal as it goes; the other suite's output is kept in a file
and printed whole when both have finished, so that neither's report is interleaved with the
other's. It exits non-zero if either failed.

Usage: python tests/side_by_side.py [PURE_WORKERS [STACK_WORKERS]]   (default 1 and 2)"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def lower_priority() -> None:
    os.nice(10)


def main(argv: list[str]) -> int:
    workers = argv[0] if argv else "1"
    stack_workers = argv[1] if len(argv) > 1 else "2"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="barycenter-pure-tests-") as folder:
        log = Path(folder) / "pure.log"
        with log.open("wb") as output:
            pure = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-m", "not stack", "-n", workers],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=lower_priority,
            )
            try:
                # Whole files to workers, in the collection's order (tests/conftest.py: the
                # `alone` files first, then the longest first): xdist's default hands out the
                # files with the most tests first, which left the longest and an `alone` file
                # to the end, one worker idle.
                stack_suite = [
                    *("-m", "stack", "-n", stack_workers),
                    *("--dist", "loadfile", "--no-loadscope-reorder"),
                ]
                stack = subprocess.run([sys.executable, "-m", "pytest", *stack_suite], check=False)
                stack_seconds = time.monotonic() - started
                pure_code = pure.wait()
            finally:
                if pure.poll() is None:  # the stack suite was interrupted: so is this one
                    pure.terminate()
                    pure.wait()
        sys.stdout.write(f"\n{'=' * 30} the tests that need no stack, run beside {'=' * 30}\n")
        sys.stdout.write(log.read_text(errors="replace"))
    total = time.monotonic() - started
    print(
        f"side by side: stack suite {stack_seconds:.0f} s (exit {stack.returncode}), both "
        f"{total:.0f} s (the other suite's exit {pure_code})"
    )
    return stack.returncode or pure_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
