"""Progress of stack.up's long phases: live on a terminal, a line every 30 s in a log.

A phase that prints nothing for minutes looks hung; CI logs and terminals both need to see
which image and architecture is being made, how far it is and for how long.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.text import Text

# How often a log (no terminal) gets the phase's lines again.
LOG_INTERVAL = 30.0
# rich shows one live display at a time: a phase reported inside another's live display
# prints its lines every interval instead, above the live one.
LIVE = threading.Lock()


def elapsed(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


@contextmanager
def reporting(
    console: Console, lines: Callable[[float], list[str]], interval: float = LOG_INTERVAL
) -> Iterator[None]:
    """While the body runs, show `lines(seconds since start)`: redrawn every half second on a
    terminal, printed every `interval` seconds otherwise."""
    started = time.monotonic()
    stop = threading.Event()

    def current() -> list[str]:
        return lines(time.monotonic() - started)

    with contextlib.ExitStack() as displays:
        if console.is_terminal and not LIVE.locked():
            displays.enter_context(LIVE)
            live = displays.enter_context(
                Live(Text(""), console=console, refresh_per_second=2, transient=True)
            )
            period = 0.5

            def show() -> None:
                live.update(Text("\n".join(current())))
        else:
            period = interval

            def show() -> None:
                for line in current():
                    # A log is read whole: one line per job, never wrapped at its width.
                    console.print(line, soft_wrap=True)

        def repeat() -> None:
            while not stop.wait(period):
                show()

        worker = threading.Thread(target=repeat, daemon=True)
        worker.start()
        try:
            yield
        finally:
            stop.set()
            worker.join()
