"""kill -9 the core at random moments: there are never two nodes.

The trials run in lanes (tests/faults/lanes.py), each lane a core and node of its own.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from tests.faults.lanes import lane_cores, lane_trials, run_lanes
from tests.helpers import CoreHarness, wait_until


class NodeCounter(threading.Thread):
    """Samples the number of live node processes every 50 ms."""

    def __init__(self, core: CoreHarness) -> None:
        super().__init__(daemon=True)
        self.core = core
        self.samples = 0
        self.max_seen = 0
        self.overlaps: list[list[int]] = []
        self.done = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            while not self.done.is_set():
                pids = self.core.node_pids()
                self.samples += 1
                self.max_seen = max(self.max_seen, len(pids))
                if len(pids) > 1:
                    self.overlaps.append(pids)
                time.sleep(0.05)
        except Exception as exc:  # a sampler that dies would hide overlaps: fail the test
            self.error = exc

    def stop(self) -> None:
        self.done.set()
        self.join()
        assert self.error is None, f"the node sampler failed: {self.error!r}"


TRIALS = 20
SEED = 20261127


def kill_trials(
    core: CoreHarness, trials: list[int], instants: list[tuple[float, float]], stop: threading.Event
) -> NodeCounter:
    """Two kills per trial on one core, each at its drawn instant; the lane's sampler."""
    core.node["stop_timeout"] = "2s"
    counter = NodeCounter(core)
    counter.start()
    try:
        for trial in trials:
            if stop.is_set():
                break
            at_start, while_running = instants[trial]
            # A kill at a random moment of start-up (loading, taking over, spawning)…
            core.start(wait_running=False)
            time.sleep(at_start)
            core.kill_core()
            # …and one at a random moment while the node runs; every start brings it back.
            core.start()
            assert len(core.node_pids()) == 1, (
                f"trial {trial} (seed {SEED}): no single node after start"
            )
            time.sleep(while_running)
            core.kill_core()
        core.start()
        wait_until(lambda: len(core.node_pids()) == 1, 10, "one node after the last start")
    finally:
        counter.stop()
    return counter


@pytest.mark.slow
def test_killing_the_core_20_times_never_leaves_two_nodes(
    core: CoreHarness, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    # Drawn in trial order, as one core killing them one by one would draw them.
    instants = [(rng.uniform(0.0, 0.8), rng.uniform(0.0, 1.0)) for _ in range(TRIALS)]
    cores = lane_cores(core, tmp_path)
    try:
        counters = run_lanes(
            lambda n, stop: kill_trials(cores[n], lane_trials(n, TRIALS), instants, stop)
        )
    finally:
        for extra in cores[1:]:
            extra.cleanup()
    overlaps = [pids for counter in counters for pids in counter.overlaps]
    assert sum(counter.samples for counter in counters) > 100
    assert overlaps == [], f"two nodes at once: {overlaps[:3]}"
    assert max(counter.max_seen for counter in counters) == 1
