"""How the core hears that it should stop: SIGTERM/SIGINT, or Ctrl+C/Ctrl+Break on Windows;
and, on POSIX, that it should reload its config: SIGHUP.

``loop.add_signal_handler`` exists only on Unix event loops (Windows'
Proactor loop raises NotImplementedError), and Windows has no SIGTERM to
receive: a console sends CTRL_C (SIGINT) or CTRL_BREAK (SIGBREAK). There a
plain signal handler hands the request to the loop. Nothing here decides
what stopping means: the callback does.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from types import FrameType


def on_stop_request(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Call ``callback`` on ``loop`` when the OS asks this process to stop."""
    if sys.platform == "win32":

        def handler(_signum: int, _frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(callback)

        for signum in (signal.SIGINT, signal.SIGBREAK):
            signal.signal(signum, handler)
    else:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, callback)


def on_reload_request(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Call ``callback`` on ``loop`` on SIGHUP (POSIX; Windows has no such signal)."""
    if sys.platform != "win32":
        loop.add_signal_handler(signal.SIGHUP, callback)
