"""kill -9 the core at random instants of a self-update; one core, one node, the same node pid.

Each trial publishes a new core (a development build of this install with
a new version) on the signed ``nodekeeper`` channel, asks for a check, and
kills the core process at a random instant spread over check, download,
install, start test, hand-over, exec, take-over and probation. A stand-in
service manager starts it again, as systemd's Restart=always would. After
every trial: exactly one core runs (the old or the new version), exactly one
node runs and it is the node of its lane's first trial (same pid), and state.json
loads and names an installed core. At no sample were two nodes running.

The trials run in lanes (tests/faults/lanes.py): each lane is one core and
one node with its own repository, data dir and service manager, and its
trials follow one another on that core.

NK_SELF_UPDATE_CRASH_TRIALS sets the number of trials (default 100).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from threading import Event

import psutil
import pytest

from nodekeeper.core import __version__
from nodekeeper.core.errors import CoreUnreachable
from nodekeeper.core.ipc.client import Client
from nodekeeper.core.selfupdate.store import CoreStore
from nodekeeper.core.state import StateStore
from tests.faults.lanes import LANES, Lane, lane_cores, lane_trials, run_lanes
from tests.faults.supervise.test_core_kill import NodeCounter
from tests.fixtures.nginx import NginxServer
from tests.helpers import CoreHarness, wait_until
from tests.integration.selfupdate.support import (
    CoreReleases,
    ServiceManager,
    configure_self_update,
    publish_core_in_process,
)
from tests.integration.update.release_repo import wait_version

TRIALS = int(os.environ.get("NK_SELF_UPDATE_CRASH_TRIALS", "100"))
# A self-update from the check to the commit takes well under this on an idle machine.
KILL_WINDOW = 2.0
SEED = 1201


def core_processes(core: CoreHarness) -> list[int]:
    """Live core processes of this harness (whichever version runs in them)."""
    config = str(core.config_path)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if config in cmdline and "run" in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc.info["pid"])
    return found


def ask_for_self_update(core: CoreHarness) -> None:
    def call() -> bool:
        try:
            with Client(str(core.socket_path), timeout=10) as client:
                client.call("check_now", {"core": True})
            return True
        except CoreUnreachable:
            return False

    wait_until(call, 30, "the core's socket")


def settled(core: CoreHarness) -> dict[str, object] | None:
    """The status once a core runs with nothing of a switch left and the node running."""
    status = core.status()
    if not status or status["node"]["state"] != "running":
        return None
    saved = StateStore(core.data_dir / "state.json").load().self_update
    if saved.trying is not None:
        return None
    return status


def run_trials(
    core: CoreHarness,
    repo: CoreReleases,
    url: str,
    trials: list[int],
    instants: list[float],
    stop: Event,
) -> Lane:
    """One core and one node through ``trials`` self-updates, each killed at its instant."""
    lane = Lane()
    configure_self_update(core, repo, url, probation="10s")
    core.node.update(health_interval="500ms", health_timeout="400ms")
    core.start()
    node_pid = wait_version(core, "1.0.0")["node"]["pid"]
    manager = ServiceManager(core, delay=0.1)
    manager.start()
    counter = NodeCounter(core)
    counter.start()
    running = __version__
    try:
        for trial in trials:
            if stop.is_set():
                break
            version = f"0.3.{trial}"
            publish_core_in_process(repo, version)
            ask_for_self_update(core)
            time.sleep(instants[trial])
            restarts = manager.restarts
            with manager.lock:  # the kill and its restart are one step of the manager
                assert core.process is not None
                core.process.kill()
            # Only the restarted core's status counts (the manager removes the old one).
            wait_until(lambda r=restarts: manager.restarts > r, 10, "the restart")
            try:
                status = wait_until(lambda: settled(core), 60, f"trial {trial} to settle", 0.1)
                now = str(status["core_version"])
                assert now in (running, version), f"core {now}, expected {running} or {version}"
                lane.outcomes["new" if now == version else "old"] += 1
                running = now
                assert status["node"]["pid"] == node_pid, "the node was restarted"
                assert core.node_pids() == [node_pid], f"nodes {core.node_pids()}"
                cores = core_processes(core)
                assert len(cores) == 1, f"{len(cores)} cores: {cores}"
                saved = StateStore(core.data_dir / "state.json").load().self_update
                installed = CoreStore(core.data_dir).installed()
                assert saved.current is None or saved.current in installed, saved
                assert saved.current in (None, now) or now == __version__, saved
            except AssertionError as exc:
                lane.failures.append(
                    f"trial {trial} (seed {SEED}, kill at {instants[trial]:.3f}s): {exc}"
                )
    finally:
        manager.stop()
        counter.stop()
    lane.restarts = manager.restarts
    lane.sampled(counter)
    return lane


@pytest.mark.slow
@pytest.mark.timeout(60 + 15 * TRIALS)
def test_kill_core_at_random_instants_of_a_self_update(
    core: CoreHarness, tmp_path: Path, nginx: Callable[[Path], NginxServer]
) -> None:
    rng = random.Random(SEED)
    instants = [rng.uniform(0.0, KILL_WINDOW) for _ in range(TRIALS)]
    cores = lane_cores(core, tmp_path)
    try:
        # Each lane publishes its own cores (its trials' versions), so each has its own repository.
        repos = [CoreReleases(c.root) for c in cores]
        for repo in repos:
            repo.publish("1.0.0")
            repo.channel("--minimum", "1.0.0", "--suggested", "1.0.0", "--rollout", "100")
        urls = [nginx(repo.dir).url + "/" for repo in repos]
        lanes = run_lanes(
            lambda n, stop: run_trials(
                cores[n], repos[n], urls[n], lane_trials(n, TRIALS), instants, stop
            )
        )
    finally:
        for extra in cores[1:]:
            extra.cleanup()
    outcomes = sum((lane.outcomes for lane in lanes), Counter[str]())
    failures = sorted((f for lane in lanes for f in lane.failures), key=lambda f: int(f.split()[1]))
    overlaps = [pids for lane in lanes for pids in lane.overlaps]
    print(
        f"\nkill -9 during self-update: {TRIALS} trials in {LANES} lanes, "
        f"{len(failures)} failures, outcomes {dict(outcomes)}, "
        f"{sum(lane.restarts for lane in lanes)} restarts, "
        f"{sum(lane.samples for lane in lanes)} samples, "
        f"max nodes at once {max(lane.max_seen for lane in lanes)}"
    )
    assert failures == []
    assert overlaps == []
    if TRIALS >= 50:  # enough random instants to land both before and after the switch
        assert outcomes["old"] > 0 and outcomes["new"] > 0
