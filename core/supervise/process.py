"""One run of the node: the spawned process and the future of its exit."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from nodekeeper.core.platform.base import ProcessIdentity


@dataclass(frozen=True)
class ExitInfo:
    code: int | None  # exit status, None when killed by a signal or never started
    signal: str | None
    reason: str  # crashed | requested | unhealthy | memory | failed-to-start

    def describe(self) -> str:
        if self.signal:
            return f"killed by {self.signal}"
        if self.code is None:
            return self.reason
        return f"exit code {self.code}"


def exit_info_from_returncode(returncode: int, reason: str) -> ExitInfo:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return ExitInfo(None, name, reason)
    return ExitInfo(returncode, None, reason)


@dataclass
class NodeRun:
    """A started node process; ``exited`` resolves with its return code."""

    popen: subprocess.Popen[bytes]
    ident: ProcessIdentity
    version: str | None
    started_at: float  # monotonic
    started_wall: float = field(default_factory=time.time)
    exited: asyncio.Future[int] = field(init=False)
    healthy: bool = False

    @property
    def pid(self) -> int:
        return self.ident.pid

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for the process in a thread of its own (the same on every OS)."""
        self.exited = loop.create_future()

        def wait() -> None:
            code = self.popen.wait()
            loop.call_soon_threadsafe(_resolve, self.exited, code)

        threading.Thread(target=wait, name=f"wait-node-{self.pid}", daemon=True).start()


def _resolve(future: asyncio.Future[int], code: int) -> None:
    if not future.done():
        future.set_result(code)
