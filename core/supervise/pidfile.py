"""The node's pid file: which process a previous core left running.

It records pid, process group and start time, so that a later core can find
the node again after a crash of the core, and never mistakes an unrelated
process that reused the pid for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nodekeeper.core.fsutil import write_atomic
from nodekeeper.core.platform.base import ProcessIdentity
from nodekeeper.core.platform.pipes import PipeRecord

# Start times are compared with a tolerance: psutil rounds them to 10 ms.
START_TIME_TOLERANCE = 0.05


@dataclass(frozen=True)
class NodeRecord:
    """What the pid file says about the node a core left running."""

    ident: ProcessIdentity
    version: str | None
    pipes: tuple[PipeRecord, ...]  # empty: it cannot be taken over, only stopped
    started: float | None  # wall-clock start of the run (epoch seconds)


class PidFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(
        self,
        ident: ProcessIdentity,
        version: str | None,
        pipes: tuple[PipeRecord, ...] = (),
        started: float | None = None,
    ) -> None:
        record = {
            "pid": ident.pid,
            "group": ident.group,
            "create_time": ident.create_time,
            "version": version,
            "pipes": [pipe.to_dict() for pipe in pipes],
            "started": started,
        }
        write_atomic(self.path, json.dumps(record).encode())

    def read(self) -> ProcessIdentity | None:
        """The recorded node, or None if there is no usable record."""
        record = self.read_record()
        return None if record is None else record.ident

    def read_record(self) -> NodeRecord | None:
        """The whole record, or None if there is no usable one."""
        try:
            record = json.loads(self.path.read_text())
            ident = ProcessIdentity(
                int(record["pid"]), float(record["create_time"]), int(record["group"])
            )
            version = record.get("version")
            started = record.get("started")
            pipes = tuple(PipeRecord.from_dict(pipe) for pipe in record.get("pipes") or ())
            return NodeRecord(
                ident,
                version if isinstance(version, str) else None,
                pipes,
                float(started) if isinstance(started, (int, float)) else None,
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
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
