"""A wrong health URL: a warning naming it and health "unknown", never a restart loop."""

from __future__ import annotations

import time

import pytest

from tests.helpers import CoreHarness, free_port, wait_until


@pytest.mark.slow
def test_a_health_url_that_never_answers_does_not_restart_the_node(core: CoreHarness) -> None:
    wrong = f"http://127.0.0.1:{free_port()}/api/sno"
    core.node["health_url"] = wrong
    core.node["health_grace"] = "2s"
    core.start(wait_running=False)
    first = wait_until(lambda: core.node_status().get("pid"), 15, "a node pid")
    status = wait_until(
        lambda: (s := core.node_status()).get("health") == "unknown" and s,
        15,
        "health unknown",
    )
    assert status["healthy"] is None and status["pid"] == first
    # Far beyond health_failures × health_interval (3 × 1 s): still the same node.
    time.sleep(4)
    status = core.node_status()
    assert status["pid"] == first and status["restarts"] == 0
    assert core.node_pids() == [first]
    log = core.stderr_text()
    assert f"health URL {wrong} has not answered" in log
    assert "Connection refused" in log
    assert "restarting it" not in log
    assert core.stop() == 0
