"""How the core hears that it should stop: SIGTERM/SIGINT, or Ctrl+C/Ctrl+Break on Windows;
and, on POSIX, that it should reload its config: SIGHUP.

``loop.add_signal_handler`` exists only on Unix event loops (Windows'
Proactor loop raises NotImplementedError), and Windows has no SIGTERM to
receive: a console sends CTRL_C (SIGINT) or CTRL_BREAK (SIGBREAK). There a
plain signal handler hands the request to the loop. Nothing here decides
what stopping means: the callbacks do.

A core process serving several instances (docs/instances.md) has one
callback per instance for the same signal: every registered callback is
called, in the order they were added, and each registration returns the
function that removes it (an instance started again in the same process
must not leave its dead core listening).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from types import FrameType

Callback = Callable[[], None]
Remove = Callable[[], None]

# Callbacks by signal number, for the loop that currently holds the handlers.
_listeners: dict[int, list[Callback]] = {}
_loop: asyncio.AbstractEventLoop | None = None


def on_stop_request(loop: asyncio.AbstractEventLoop, callback: Callback) -> Remove:
    """Call ``callback`` on ``loop`` when the OS asks this process to stop."""
    if sys.platform == "win32":
        return _listen(loop, (signal.SIGINT, signal.SIGBREAK), callback)
    return _listen(loop, (signal.SIGTERM, signal.SIGINT), callback)


def on_reload_request(loop: asyncio.AbstractEventLoop, callback: Callback) -> Remove:
    """Call ``callback`` on ``loop`` on SIGHUP (POSIX; Windows has no such signal)."""
    if sys.platform == "win32":
        return lambda: None
    return _listen(loop, (signal.SIGHUP,), callback)


def _listen(
    loop: asyncio.AbstractEventLoop, signums: tuple[int, ...], callback: Callback
) -> Remove:
    global _loop
    if _loop is not loop:  # a new event loop (asyncio.run again): its handlers start afresh
        _listeners.clear()
        _loop = loop
    for signum in signums:
        if signum not in _listeners:
            _listeners[signum] = []
            _install(loop, signum)
        _listeners[signum].append(callback)

    def remove() -> None:
        for signum in signums:
            callbacks = _listeners.get(signum, [])
            if callback in callbacks:
                callbacks.remove(callback)

    return remove


def _call_all(signum: int) -> None:
    for callback in list(_listeners.get(signum, ())):
        callback()


def _install(loop: asyncio.AbstractEventLoop, signum: int) -> None:
    if sys.platform == "win32":

        def handler(_signum: int, _frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(_call_all, signum)

        signal.signal(signum, handler)
    else:
        loop.add_signal_handler(signum, _call_all, signum)
