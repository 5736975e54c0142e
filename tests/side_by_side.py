"""`nox -s tests` without arguments: the stack tests, one file after another, with the tests that
need no stack beside them on one core, rather than before them on every core.

The stack suite spends much of its time waiting (on act's containers, registries, timeouts
that a fault-matrix point must reach), and the other suite fills those waits: the whole takes
about as long as the stack suite alone. The other suite runs at a lower priority (nice 10):
the stack suite is the longer one, and alone it keeps two cores only about three quarters
busy, so the other suite still finishes long before it, on the quarter left over, instead of
taking a core the stack suite's builds would have used. The stack suite prints to the terminal
as it goes; the other suite's output is kept in a file and printed whole when both have
finished, so that neither's report is interleaved with the other's. It exits non-zero if
either failed.

Usage: python tests/side_by_side.py [PURE_WORKERS]   (default 1)"""

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
                stack = subprocess.run([sys.executable, "-m", "pytest", "-m", "stack"], check=False)
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
