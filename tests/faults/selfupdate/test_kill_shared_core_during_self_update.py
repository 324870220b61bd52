"""kill -9 a core process serving two instances at random instants of its self-update.

As tests/faults/selfupdate/test_kill_core_during_self_update.py, for a
process started with two --config files: the first instance drives the
update, a switch hands both instances over in one exec. After every trial:
exactly one core process runs, both instances answer from the same core
version, each has exactly one node and it is still the node of the first
trial (same pid), and the first instance's state.json names an installed core.

NK_SHARED_SELF_UPDATE_CRASH_TRIALS sets the number of trials (default 20).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nodekeeper.core import __version__
from nodekeeper.core.selfupdate.store import CoreStore
from nodekeeper.core.state import StateStore
from tests.faults.selfupdate.test_kill_core_during_self_update import (
    KILL_WINDOW,
    ask_for_self_update,
    core_processes,
    settled,
)
from tests.faults.supervise.test_core_kill import NodeCounter
from tests.fixtures.nginx import NginxServer
from tests.helpers import SharedCore, wait_until
from tests.integration.selfupdate.support import (
    ServiceManager,
    configure_self_update,
    node_at_1_0_0,
    publish_core_in_process,
)
from tests.integration.update.release_repo import configure_updates, wait_version

TRIALS = int(os.environ.get("NK_SHARED_SELF_UPDATE_CRASH_TRIALS", "20"))


@pytest.mark.slow
@pytest.mark.timeout(60 + 20 * TRIALS)
def test_kill_a_shared_core_at_random_instants_of_its_self_update(
    tmp_path: Path, nginx: Callable[[Path], NginxServer]
) -> None:
    rng = random.Random(1202)
    repo = node_at_1_0_0(tmp_path / "releases")
    server = nginx(repo.dir)
    shared = SharedCore(tmp_path / "cores", ("alpha", "beta"))
    lead, other = shared.instances["alpha"], shared.instances["beta"]
    configure_self_update(lead, repo, server.url + "/", probation="10s")
    configure_updates(other, repo, server.url + "/")
    for harness in (lead, other):
        harness.node.update(health_interval="500ms", health_timeout="400ms")
    counters = [NodeCounter(h) for h in (lead, other)]
    manager = ServiceManager(shared, delay=0.1)
    failures: list[str] = []
    outcomes = {"old": 0, "new": 0}
    running = __version__
    try:
        shared.start()
        pids = {
            name: wait_version(h, "1.0.0")["node"]["pid"] for name, h in shared.instances.items()
        }
        manager.start()
        for counter in counters:
            counter.start()
        for trial in range(TRIALS):
            version = f"0.4.{trial}"
            publish_core_in_process(repo, version)
            ask_for_self_update(lead)
            time.sleep(rng.uniform(0.0, KILL_WINDOW))
            restarts = manager.restarts
            with manager.lock:
                assert shared.process is not None
                shared.process.kill()
            wait_until(lambda r=restarts: manager.restarts > r, 10, "the restart")
            try:
                status = wait_until(lambda: settled(lead), 60, f"trial {trial} to settle", 0.1)
                now = str(status["core_version"])
                assert now in (running, version), f"core {now}, expected {running} or {version}"
                outcomes["new" if now == version else "old"] += 1
                running = now
                wait_until(
                    lambda now=now: (
                        (s := other.status()) is not None
                        and s.get("core_version") == now
                        and s["node"]["state"] == "running"
                    ),
                    30,
                    f"beta served by core {now}",
                )
                for name, harness in shared.instances.items():
                    assert harness.node_pids() == [pids[name]], f"{name}: {harness.node_pids()}"
                cores = core_processes(lead)
                assert len(cores) == 1, f"{len(cores)} cores: {cores}"
                saved = StateStore(lead.data_dir / "state.json").load().self_update
                installed = CoreStore(lead.data_dir).installed()
                assert saved.current is None or saved.current in installed, saved
            except AssertionError as exc:
                failures.append(f"trial {trial}: {exc}")
    finally:
        manager.stop()
        for counter in counters:
            if counter.is_alive():
                counter.stop()
        shared.cleanup()
    print(
        f"\nkill -9 during a shared self-update: {TRIALS} trials, {len(failures)} failures, "
        f"outcomes {outcomes}, {manager.restarts} restarts"
    )
    assert failures == []
    for counter in counters:
        assert counter.overlaps == []
