"""Crash trials run in lanes: a few at a time, each lane with its own core, folders and ports.

A crash trial mostly waits (for a core to start, for its random kill
instant, for the node to settle), so two lanes side by side take about half
the wall time of one. Trial N goes to lane N % lanes and keeps its own kill
instant, drawn up front in trial order from the test's seed, so a failure
names the same trial and instant whatever the number of lanes.

NK_CRASH_LANES sets the number of lanes (default 2; 1 runs the trials one by one).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from tests.helpers import CoreHarness

if TYPE_CHECKING:
    from tests.faults.supervise.test_core_kill import NodeCounter

LANES = max(1, int(os.environ.get("NK_CRASH_LANES", "2")))

T = TypeVar("T")


@dataclass
class Lane:
    """One lane's outcomes and failures, and what its service manager and node sampler saw."""

    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    restarts: int = 0
    samples: int = 0
    max_seen: int = 0
    overlaps: list[list[int]] = field(default_factory=list)

    def sampled(self, counter: NodeCounter) -> None:
        """Keep what the lane's node sampler saw."""
        self.samples, self.max_seen, self.overlaps = (
            counter.samples,
            counter.max_seen,
            counter.overlaps,
        )


def lane_trials(lane: int, trials: int, lanes: int = LANES) -> list[int]:
    """The trial numbers lane ``lane`` runs, in order."""
    return list(range(lane, trials, lanes))


def lane_cores(first: CoreHarness, root: Path, lanes: int = LANES) -> list[CoreHarness]:
    """``first`` (the test's ``core`` fixture) for lane 0, a core in ``root/lane-N`` for the others.

    The caller cleans up the extra cores (``cleanup()``), as the fixture does the first.
    """
    cores = [first]
    for lane in range(1, lanes):
        (root / f"lane-{lane}").mkdir()
        cores.append(CoreHarness(root / f"lane-{lane}"))
    return cores


def run_lanes(run_lane: Callable[[int, threading.Event], T], lanes: int = LANES) -> list[T]:
    """``run_lane(lane, stop)`` for every lane at once; their results in lane order.

    A lane that raises sets ``stop`` (the other lanes end after their current
    trial), and the first error is raised here once every lane has ended, so no
    lane's processes outlive the test. A timeout or interrupt of the test sets
    ``stop`` too.
    """
    stop = threading.Event()

    def guarded(lane: int) -> T:
        try:
            return run_lane(lane, stop)
        except BaseException:
            stop.set()
            raise

    with ThreadPoolExecutor(lanes, thread_name_prefix="crash-lane") as pool:
        futures = [pool.submit(guarded, lane) for lane in range(lanes)]
        try:
            for future in futures:
                future.exception()  # wait for every lane before raising any lane's error
        except BaseException:
            stop.set()  # the test timed out or was interrupted: the lanes end after this trial
            raise
        return [future.result() for future in futures]
