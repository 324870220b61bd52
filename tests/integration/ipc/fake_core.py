"""A small real process serving a real ControlServer, for socket tests.

Run as ``python tests/integration/ipc/fake_core.py SOCKET``. It prints
``ready`` once the socket listens and then obeys lines on stdin:

* ``publish N [PAD [PAUSE_MS]]`` — publish N ``update-progress`` events
  numbered 0..N-1 (each padded with PAD bytes of text, pausing PAUSE_MS
  after every 20) from a separate thread, as the core's threads do;
* ``fail check`` / ``crash check`` / ``ok check`` — make ``check_now`` raise
  an operator error, raise a bug, or answer normally;
* ``hold check`` / ``release check`` — make ``check_now`` wait until released;
* ``quit`` — close the server and exit.

Its handlers keep a little state (updates on/off, restarts) so the tests
see requests take effect.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from typing import Any

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.events import EventBus
from nodekeeper.core.ipc.admission import Limits
from nodekeeper.core.ipc.server import ControlServer


class Handlers:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.enabled = True
        self.restarts = 0
        self.check_mode = "ok"
        self.released = asyncio.Event()

    def updates(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "source": "storj",
            "state": "idle" if self.enabled else "disabled",
            "last_check": "2026-11-27T05:00:00Z",
            "last_error": None,
            "next_check": None,
            "minimum": "1.2.0",
            "suggested": "1.3.0",
            "candidate": False,
            "pending": None,
            "previous": None,
            "quarantined": [],
        }

    async def status(self) -> dict[str, Any]:
        return {
            "instance": "fake",
            "core_version": "0.1.0",
            "node": {
                "state": "running",
                "pid": 4242,
                "version": "1.2.3",
                "uptime_s": 3725.0,
                "restarts": self.restarts,
                "healthy": True,
                "last_exit": None,
            },
            "updates": self.updates(),
            "logs": {"dir": "/var/log/fake", "bytes": 2048, "dropped_lines": 0},
            "limits": {"memory_max": None, "cpu_max": None, "enforced_by": None},
        }

    async def set_updates(self, enabled: bool) -> dict[str, Any]:
        self.enabled = enabled
        self.bus.publish("updates-toggled", {"enabled": enabled})
        return self.updates()

    async def check_now(self) -> dict[str, Any]:
        if self.check_mode == "hold":
            await self.released.wait()
        if self.check_mode == "fail":
            raise OperationFailed("cannot reach the release source (connection refused)")
        if self.check_mode == "crash":
            raise RuntimeError("boom\nsecond line")
        return {"action": "update", "target": "1.3.0", "reason": "rollout candidate"}

    async def restart_node(self) -> dict[str, Any]:
        self.restarts += 1
        return {"restarting": True}

    async def stop_node(self) -> dict[str, Any]:
        return {"state": "stopped", "stopped_by_operator": True}

    async def start_node(self) -> dict[str, Any]:
        return {"state": "starting", "stopped_by_operator": False}

    async def reload(self, restart_node: bool) -> dict[str, Any]:
        return {"summary": "configuration unchanged", "node_restarted": False}

    async def roll_back_core(self, dry_run: bool = False) -> dict[str, Any]:
        return {"from": "0.1.0", "to": "0.0.9", "node_pid": 4242, "dry_run": dry_run}

    async def logs_tail(self, lines: int) -> list[str]:
        return [f"line {i}" for i in range(max(0, 50 - lines), 50)]


def publish(bus: EventBus, count: int, pad: int, pause_ms: int) -> None:
    padding = "x" * pad
    for number in range(count):
        bus.publish("update-progress", {"n": number, "pad": padding})
        if pause_ms and number % 20 == 19:
            time.sleep(pause_ms / 1000)


async def main(path: str) -> None:
    bus = EventBus()
    handlers = Handlers(bus)
    # Short quiet-client timeouts for the tests that wait them out.
    limits = Limits(
        hello_timeout=float(os.environ.get("NK_FAKE_HELLO_TIMEOUT", Limits.hello_timeout)),
        idle_timeout=float(os.environ.get("NK_FAKE_IDLE_TIMEOUT", Limits.idle_timeout)),
    )
    server = ControlServer(
        path, handlers, bus, instance="fake", core_version="0.1.0", limits=limits
    )
    await server.start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        words = line.split()
        if not words or words[0] == "quit":
            break
        if words[0] == "publish":
            pad = int(words[2]) if len(words) > 2 else 0
            pause = int(words[3]) if len(words) > 3 else 0
            threading.Thread(target=publish, args=(bus, int(words[1]), pad, pause)).start()
        elif words == ["release", "check"]:
            handlers.released.set()
        elif words[1:] == ["check"]:
            handlers.check_mode = words[0]
        print("ok", flush=True)
    await server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
