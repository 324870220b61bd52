"""`nodekeeper reload [--restart-node]` against a real core."""

from __future__ import annotations

import json
import subprocess

from tests.helpers import CoreHarness, run_cli, wait_until
from tests.integration.ipc.test_real_core import cli


def reload_via_socket(core: CoreHarness) -> subprocess.CompletedProcess[str]:
    """Through --socket: with --config the CLI itself would refuse the broken file."""
    return run_cli("reload", "--socket", core.socket_path)


def test_reload_applies_live_and_names_what_needs_a_node_restart(core: CoreHarness) -> None:
    core.start()
    [pid] = core.node_pids()
    core.extra["updates"] = {"enabled": True}
    core.node["env"] = {"RELOADED": "1"}
    core.write_config()

    result = cli(core, "reload", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["applied"] == ["updates.enabled"]
    assert answer["needs_node_restart"] == ["node.env"]
    assert answer["node_restarted"] is False
    status = json.loads(cli(core, "status", "--json").stdout)
    assert status["updates"]["enabled"] is True
    assert core.node_pids() == [pid]

    text = cli(core, "reload", "--restart-node")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("reloaded: node restarted for: node.env"), text.stdout
    wait_until(lambda: core.node_pids() not in ([], [pid]), 20, "the node restarted")


def test_reload_of_an_invalid_file_changes_nothing_and_says_why(core: CoreHarness) -> None:
    core.start()
    [pid] = core.node_pids()
    core.node["health_failures"] = 0
    core.write_config()
    result = reload_via_socket(core)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "nothing changed" in result.stderr and "node.health_failures" in result.stderr
    assert "Traceback" not in result.stderr
    assert core.node_pids() == [pid]
