"""Shared by the update fault tests: a data dir on its own tmpfs, and watching a core's events."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.ipc.client import Client
from tests.helpers import CoreHarness, wait_until

TMPFS_SIZE = 16 * 2**20
MIN_FREE = "4MiB"  # the default min_free_space (1 GiB) would not fit on the tmpfs


def mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def tmpfs_data_dir(core: CoreHarness) -> Iterator[Path]:
    """The core's data dir on a private tmpfs (its own mount), unmounted after the core is gone."""
    data_dir = core.data_dir
    data_dir.mkdir(parents=True)
    mounted = mount("-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "tmpfs", str(data_dir))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield data_dir
    finally:
        core.cleanup()  # nothing may hold files in the mounts any more
        for _ in range(3):  # a bind mount a test stacked on top, then the tmpfs
            if not os.path.ismount(data_dir):
                break
            if subprocess.run(["umount", str(data_dir)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(data_dir)], capture_output=True)


class EventRecorder(threading.Thread):
    """Every event the core publishes on its socket, as ``(kind, data)``."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__(daemon=True)
        self.client = Client(str(socket_path), timeout=10)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.subscribed = threading.Event()
        self.start()
        wait_until(self.subscribed.is_set, 10, "the event subscription")

    def run(self) -> None:
        try:
            for kind, _time, data in self.client.subscribe():
                self.subscribed.set()
                self.events.append((kind, data))
        except (NodekeeperError, OSError):
            pass  # the core went away at the end of the test

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def wait_for(self, kind: str, timeout: float) -> dict[str, Any]:
        found: dict[str, Any] = wait_until(
            lambda: next((data for k, data in self.events if k == kind), None),
            timeout,
            f"a {kind} event",
        )
        return found

    def close(self) -> None:
        self.client.close()


def socket_status(core: CoreHarness) -> dict[str, Any]:
    """The status straight from the core (status.json lags, and is stale on a read-only disk)."""
    with Client(str(core.socket_path), timeout=10) as client:
        status: dict[str, Any] = client.call("status")
    return status
