"""kill -9 the core at random instants of an update; the node always comes back on a good version.

Each trial starts from the same data dir (1.0.0 installed and running),
asks for the update to 1.1.0, kills the core at a random instant spread
over check, download, unpack, switch and probation, starts the core again
and waits until it settles. After every trial: the node runs 1.0.0 or
1.1.0 from a complete version folder (never ``*.tmp``), state.json is
valid, and at no sample were two nodes running.

The trials run in lanes (tests/faults/lanes.py), each lane with its own
core, data dir and node; every lane serves from the same repository.

NK_UPDATE_CRASH_TRIALS sets the number of trials (default 200).
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from threading import Event

import psutil
import pytest

from nodekeeper.core.errors import CoreUnreachable
from nodekeeper.core.ipc.client import Client
from nodekeeper.core.state import State
from tests.faults.lanes import LANES, Lane, lane_cores, lane_trials, run_lanes
from tests.faults.supervise.test_core_kill import NodeCounter
from tests.fixtures.nginx import NginxServer
from tests.helpers import CoreHarness, wait_until
from tests.integration.update.release_repo import ReleaseRepo, configure_updates

TRIALS = int(os.environ.get("NK_UPDATE_CRASH_TRIALS", "200"))
SEED = 1127


def settled_version(core: CoreHarness) -> str | None:
    status = core.status()
    if not status:
        return None
    node, updates = status["node"], status["updates"]
    if node["state"] == "running" and node["healthy"] and updates["pending"] is None:
        return str(node["version"])
    return None


def ask_for_update(core: CoreHarness) -> None:
    """`check` through the socket as soon as the new core answers (what `nodekeeper check` does)."""

    def call() -> bool:
        try:
            with Client(str(core.socket_path), timeout=10) as client:
                client.call("check_now")
            return True
        except CoreUnreachable:
            return False

    wait_until(call, 20, "the core's socket")


def running_binary(pid: int) -> str:
    cmdline = psutil.Process(pid).cmdline()
    # The demo binary is a script: [python, <binary>, run, ...]
    return next(arg for arg in cmdline if arg.endswith("storagenode"))


def prepare_pristine(core: CoreHarness, repo: ReleaseRepo, url: str) -> Path:
    """The pristine data dir of ``core``: 1.0.0 adopted and running, nothing else."""
    configure_updates(core, repo, url, probation="1s")
    core.node.update(stop_timeout="2s", health_interval="500ms", health_timeout="400ms")
    core.start()
    wait_until(lambda: settled_version(core) == "1.0.0", 30, "1.0.0")
    core.stop()
    pristine = core.root / "pristine"
    shutil.copytree(core.data_dir, pristine)
    return pristine


def run_trials(
    core: CoreHarness, pristine: Path, trials: list[int], instants: list[float], stop: Event
) -> Lane:
    lane = Lane()
    counter = NodeCounter(core)
    counter.start()
    try:
        for trial in trials:
            if stop.is_set():
                break
            shutil.rmtree(core.data_dir)
            shutil.copytree(pristine, core.data_dir)
            core.start(wait_running=False)
            ask_for_update(core)
            time.sleep(instants[trial])
            core.kill_core()
            core.start(wait_running=False)
            try:
                version = wait_until(lambda: settled_version(core), 60, "the node to settle")
                state = State.from_json((core.data_dir / "state.json").read_text())
                pids = core.node_pids()
                assert len(pids) == 1, f"{len(pids)} nodes"
                binary = running_binary(pids[0])
                assert ".tmp" not in binary, binary
                assert binary == str(core.data_dir / "versions" / version / "storagenode")
                assert state.current == version and version in ("1.0.0", "1.1.0")
                lane.outcomes[version] += 1
            except AssertionError as exc:
                lane.failures.append(
                    f"trial {trial} (seed {SEED}, kill at {instants[trial]:.3f}s): {exc}"
                )
            # The node outlives a killed core (a later core takes it over); the next trial
            # starts from the pristine data dir, which knows nothing of it: end both.
            core.cleanup()
    finally:
        counter.stop()
    lane.sampled(counter)
    return lane


@pytest.mark.slow
@pytest.mark.timeout(40 + 8 * TRIALS)
def test_kill_core_at_random_instants_of_an_update(
    core: CoreHarness, tmp_path: Path, nginx: Callable[[Path], NginxServer]
) -> None:
    rng = random.Random(SEED)
    instants = [rng.uniform(0.0, 2.5) for _ in range(TRIALS)]
    repo = ReleaseRepo(tmp_path)
    repo.publish("1.0.0")
    repo.publish("1.1.0")
    repo.channel("--minimum", "1.0.0", "--suggested", "1.0.0", "--rollout", "100")
    server = nginx(repo.dir)
    cores = lane_cores(core, tmp_path)
    try:
        pristines = [prepare_pristine(c, repo, server.url + "/") for c in cores]
        repo.channel("--suggested", "1.1.0")
        lanes = run_lanes(
            lambda n, stop: run_trials(
                cores[n], pristines[n], lane_trials(n, TRIALS), instants, stop
            )
        )
    finally:
        for extra in cores[1:]:
            extra.cleanup()
    outcomes = sum((lane.outcomes for lane in lanes), Counter[str]())
    failures = sorted((f for lane in lanes for f in lane.failures), key=lambda f: int(f.split()[1]))
    overlaps = [pids for lane in lanes for pids in lane.overlaps]
    print(
        f"\nkill -9 during update: {TRIALS} trials in {LANES} lanes, {len(failures)} failures, "
        f"outcomes {dict(outcomes)}, {sum(lane.samples for lane in lanes)} samples, "
        f"max nodes at once {max(lane.max_seen for lane in lanes)}"
    )
    assert failures == []
    assert overlaps == []
    if TRIALS >= 50:  # enough random instants to land both before and after the switch
        assert outcomes["1.0.0"] > 0 and outcomes["1.1.0"] > 0
