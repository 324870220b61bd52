"""kill -9 the core at random moments: there are never two nodes."""

from __future__ import annotations

import random
import threading
import time

import pytest

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


@pytest.mark.slow
def test_killing_the_core_20_times_never_leaves_two_nodes(core: CoreHarness) -> None:
    rng = random.Random(20261127)
    core.node["stop_timeout"] = "2s"
    counter = NodeCounter(core)
    counter.start()
    try:
        for trial in range(20):
            # A kill at a random moment of start-up (loading, taking over, spawning)…
            core.start(wait_running=False)
            time.sleep(rng.uniform(0.0, 0.8))
            core.kill_core()
            # …and one at a random moment while the node runs; every start brings it back.
            core.start()
            assert len(core.node_pids()) == 1, f"trial {trial}: no single node after start"
            time.sleep(rng.uniform(0.0, 1.0))
            core.kill_core()
        core.start()
        wait_until(lambda: len(core.node_pids()) == 1, 10, "one node after the last start")
    finally:
        counter.stop()
    assert counter.samples > 100
    assert counter.overlaps == [], f"two nodes at once: {counter.overlaps[:3]}"
    assert counter.max_seen == 1
