"""`nodekeeper stop` / `start` against a real core: the node only, and the stop outlasts the core."""

from __future__ import annotations

import json

from tests.helpers import CoreHarness, wait_until
from tests.integration.ipc.test_real_core import cli


def node_via_socket(core: CoreHarness) -> dict[str, object]:
    result = cli(core, "status", "--json")
    assert result.returncode == 0, result.stderr
    node: dict[str, object] = json.loads(result.stdout)["node"]
    return node


def test_a_stop_by_the_operator_survives_a_core_restart_until_start(core: CoreHarness) -> None:
    core.start()
    stopped = cli(core, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped by operator" in stopped.stdout
    assert core.node_pids() == []
    node = node_via_socket(core)
    assert (node["state"], node["stopped_by_operator"]) == ("stopped", True)
    text = cli(core, "status")
    assert "stopped by operator" in text.stdout, text.stdout
    assert core.process is not None and core.process.poll() is None  # the core keeps running

    refused = cli(core, "restart")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "nodekeeper start" in refused.stderr

    assert core.stop() == 0
    core.start(wait_running=False)
    wait_until(lambda: core.node_status().get("state") == "stopped", 20, "the core to come back")
    wait_until(lambda: core.socket_path.exists(), 20, "the control socket")
    assert node_via_socket(core)["stopped_by_operator"] is True
    assert core.node_pids() == []
    assert "stopped by the operator" in core.stderr_text()

    started = cli(core, "start")
    assert started.returncode == 0, started.stderr
    core.wait_state("running", timeout=20)
    assert node_via_socket(core)["stopped_by_operator"] is False
    assert len(core.node_pids()) == 1
    assert core.stop() == 0
    core.start()  # runs the node again after a core restart
