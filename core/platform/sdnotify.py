"""Tells systemd how the core is doing: ready, alive, stopping (sd_notify(3)).

systemd hands a ``Type=notify`` service the datagram socket in
``NOTIFY_SOCKET`` and, with ``WatchdogSec=``, the deadline in
``WATCHDOG_USEC``. The core says ``READY=1`` once the node has started
(or the core has given up on starting it quickly: a crash loop is reported,
not hidden behind a start timeout), then ``WATCHDOG=1`` from its event loop
at half the deadline, so a hung core stops sending and systemd restarts it.
Standard library only; without ``NOTIFY_SOCKET`` (no systemd, another OS)
every call does nothing. It never raises into the core: a message that
cannot be sent is logged and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable, Mapping

from nodekeeper.core.events import Event, EventBus

_log = logging.getLogger(__name__)

# Events after which the core is up and reporting on its node.
READY_EVENTS = frozenset({"node-started", "crash-loop"})


def socket_address(env: Mapping[str, str]) -> str | bytes | None:
    """The address in NOTIFY_SOCKET: a path, or an abstract name (``@`` → NUL)."""
    value = env.get("NOTIFY_SOCKET", "")
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def watchdog_interval(env: Mapping[str, str], pid: int) -> float | None:
    """Seconds between WATCHDOG=1 messages (half the deadline), None when not asked for."""
    owner = env.get("WATCHDOG_PID")
    if owner is not None and owner.strip() != str(pid):
        return None  # the deadline is meant for another process (e.g. our parent)
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


class Notifier:
    """Sends sd_notify messages to one address; does nothing without one."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = socket_address(env)
        self.watchdog_s = watchdog_interval(env, os.getpid())

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        # Sockets Python creates are close-on-exec already (PEP 446).
        if self.address is None or sys.platform == "win32":
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(fields).encode(), self.address)
        except OSError as exc:
            _log.warning("cannot notify systemd: %s", exc.strerror or exc)
            return False
        return True


async def report_to_systemd(
    bus: EventBus,
    notifier: Notifier | None = None,
    *,
    stopping: Callable[[], bool] = lambda: True,
) -> None:
    """Run for the core's lifetime: READY=1 once, WATCHDOG=1 on time, STOPPING=1 at the end
    unless ``stopping()`` says the service goes on (a new core exec'd in this process:
    systemd would otherwise wait for an exit that never comes, then kill the node)."""
    notifier = Notifier() if notifier is None else notifier
    if not notifier.enabled:
        return
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()

    def on_event(event: Event) -> None:
        if event.kind in READY_EVENTS and not loop.is_closed():
            loop.call_soon_threadsafe(ready.set)

    unsubscribe = bus.subscribe(on_event)
    sent_ready = False
    try:
        while True:
            # Sent from the event loop itself: a hung loop stops the messages.
            if notifier.watchdog_s is not None:
                notifier.send("WATCHDOG=1")
            if ready.is_set() and not sent_ready:
                sent_ready = True
                notifier.send("READY=1", "STATUS=supervising the node")
            if not sent_ready:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ready.wait(), notifier.watchdog_s)
            elif notifier.watchdog_s is not None:
                await asyncio.sleep(notifier.watchdog_s)
            else:
                await asyncio.Event().wait()  # nothing more to say until cancelled
    finally:
        unsubscribe()
        if stopping():
            notifier.send("STOPPING=1")
