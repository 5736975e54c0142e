"""Loaded by every Python process of a measured run (PYTHONPATH): records when each child
process (git, docker, cosign) starts and ends, so the tool's own time can be told apart."""

import atexit
import os
import subprocess
import threading
import time
from pathlib import Path

_LOG = os.environ.get("BARYCENTER_OVERHEAD_LOG")
_intervals: list[tuple[float, float, str]] = []
_lock = threading.Lock()
_original_init = subprocess.Popen.__init__
_original_wait = subprocess.Popen.wait


def _init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    self._started_at = time.monotonic()
    _original_init(self, *args, **kwargs)


def _wait(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    code = _original_wait(self, *args, **kwargs)
    started = getattr(self, "_started_at", None)
    if started is not None and not getattr(self, "_recorded", False):
        self._recorded = True
        argv = self.args if isinstance(self.args, list) else [str(self.args)]
        with _lock:
            _intervals.append((started, time.monotonic(), Path(str(argv[0])).name))
    return code


def _flush() -> None:
    if _LOG:
        with Path(_LOG).open("a") as log:
            for start, end, name in _intervals:
                log.write(f"{start} {end} {name}\n")


if _LOG:
    subprocess.Popen.__init__ = _init  # type: ignore[method-assign]
    subprocess.Popen.wait = _wait  # type: ignore[method-assign]
    atexit.register(_flush)
