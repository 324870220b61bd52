"""The node's pid file: which process a previous core left running.

It records pid, process group and start time, so that a later core can find
the node again after a crash of the core, and never mistakes an unrelated
process that reused the pid for it.
"""

from __future__ import annotations

import json
from pathlib import Path

from nodekeeper.core.fsutil import write_atomic
from nodekeeper.core.platform.base import ProcessIdentity

# Start times are compared with a tolerance: psutil rounds them to 10 ms.
START_TIME_TOLERANCE = 0.05


class PidFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, ident: ProcessIdentity, version: str | None) -> None:
        record = {
            "pid": ident.pid,
            "group": ident.group,
            "create_time": ident.create_time,
            "version": version,
        }
        write_atomic(self.path, json.dumps(record).encode())

    def read(self) -> ProcessIdentity | None:
        """The recorded node, or None if there is no usable record."""
        try:
            record = json.loads(self.path.read_text())
            return ProcessIdentity(
                int(record["pid"]), float(record["create_time"]), int(record["group"])
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            # A torn or foreign file: nothing trustworthy to act on.
            return None

    def remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def same_process(recorded: ProcessIdentity, live: ProcessIdentity | None) -> bool:
    """True when ``live`` is the very process that was recorded (not a pid reuse)."""
    return live is not None and abs(live.create_time - recorded.create_time) <= START_TIME_TOLERANCE
