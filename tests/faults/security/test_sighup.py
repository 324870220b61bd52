"""SIGHUP to a real core reloads its config file: the node keeps running, untouched.

Before, SIGHUP's default action ended the core and, through the
parent-death signal, the node: one stray `kill -HUP` (a terminal closing,
a log rotator's postrotate) took a storage node offline.
"""

from __future__ import annotations

import json
import os
import signal
import time

from tests.helpers import CoreHarness, wait_until


def reloads(core: CoreHarness) -> list[str]:
    return [line for line in core.stderr_text().splitlines() if "reload" in line]


def test_sighup_reloads_and_leaves_the_node_running(core: CoreHarness) -> None:
    core.start()
    assert core.process is not None
    [pid] = core.node_pids()

    core.node["health_interval"] = "2s"  # live
    core.node["env"] = {"RELOADED": "1"}  # needs a node restart
    core.extra["updates"] = {"interval": "1h", "jitter": "1m"}  # live
    core.extra["logs"] = {"max_age": "7d"}  # live
    core.write_config()
    os.kill(core.process.pid, signal.SIGHUP)
    wait_until(lambda: any("configuration reloaded" in r for r in reloads(core)), 20, "reload")
    [line] = [r for r in reloads(core) if "configuration reloaded" in r]
    assert "applied: node.health_interval, updates.interval, updates.jitter, logs.max_age" in line
    assert "needs a node restart: node.env" in line

    time.sleep(1.5)  # a node stopped by the signal would be gone or restarted by now
    assert core.process.poll() is None
    assert core.node_pids() == [pid]
    assert core.node_status()["pid"] == pid and core.node_status()["state"] == "running"


def test_sighup_with_a_broken_file_changes_nothing_and_says_why(core: CoreHarness) -> None:
    core.start()
    assert core.process is not None
    [pid] = core.node_pids()
    before = json.loads((core.data_dir / "status.json").read_text())["updates"]

    core.config_path.write_text(core.config_path.read_text() + "\n[node\n")
    os.kill(core.process.pid, signal.SIGHUP)
    wait_until(lambda: any("reload refused" in r for r in reloads(core)), 20, "refusal")
    [line] = [r for r in reloads(core) if "reload refused" in r]
    assert "nothing changed" in line and str(core.config_path) in line

    time.sleep(1.0)
    assert core.process.poll() is None and core.node_pids() == [pid]
    after = json.loads((core.data_dir / "status.json").read_text())["updates"]
    assert after["next_check"] == before["next_check"]
