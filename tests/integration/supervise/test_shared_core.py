"""One core process serving three instances (``run --config A --config B --config C``).

Real demo nodes, a real core process; each instance is reached through its
own socket and status.json, as the contract says.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CoreHarness, SharedCore, run_cli, wait_until

NAMES = ("alpha", "beta", "gamma")


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[SharedCore]:
    cores = SharedCore(tmp_path, NAMES)
    try:
        yield cores
    finally:
        cores.cleanup()


def test_each_instance_answers_on_its_own_socket_and_stops_with_the_process(
    shared: SharedCore,
) -> None:
    process = shared.start()
    pids = shared.pids()
    assert len(set(pids.values())) == 3
    for name, harness in shared.instances.items():
        answer = run_cli("status", "--json", "--config", harness.config_path, check=True)
        status = json.loads(answer.stdout)
        assert status["instance"] == name
        assert status["node"]["pid"] == pids[name]
        assert status["shared_with"] == [n for n in NAMES if n != name]
        # The first instance's core runs the process's own updates.
        assert ("self_update" in status) == (name == "alpha")
        # Each core log holds its own instance's lines, not the others'.
        log = harness.root / "logs" / f"nodekeeper-{name}.log"
        text = wait_until(
            lambda log=log: "node started" in (t := log.read_text()) and t, 10, "core log"
        )
        assert f"node started: pid {pids[name]}" in text
        for other in NAMES:
            if other != name:
                assert f"node started: pid {pids[other]}" not in text
                assert str(shared.instances[other].socket_path) not in text
    refused = run_cli("updates", "on", "--self", "--config", shared.instances["beta"].config_path)
    assert refused.returncode != 0
    assert "also serves alpha, gamma" in refused.stderr
    assert "run by instance alpha: add --instance alpha" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    for harness in shared.instances.values():
        wait_until(lambda h=harness: h.node_pids() == [], 10, "no node left")
        assert not harness.socket_path.exists()


def test_a_node_crash_restarts_only_that_node(shared: SharedCore) -> None:
    shared.start()
    before = shared.pids()
    os.kill(before["beta"], signal.SIGKILL)
    beta = shared.instances["beta"]
    wait_until(
        lambda: (
            (s := beta.node_status()).get("state") == "running" and s.get("pid") != before["beta"]
        ),
        15,
        "beta's node started again",
    )
    after = shared.pids()
    assert after["alpha"] == before["alpha"]
    assert after["gamma"] == before["gamma"]


@pytest.mark.slow
def test_a_failed_instance_core_is_built_again_while_the_others_run_on(
    shared: SharedCore,
) -> None:
    process = shared.start()
    before = shared.pids()
    beta = shared.instances["beta"]
    state = beta.data_dir / "state.json"
    saved = state.read_text()
    state.write_text("{ not json")
    # A crash is a change of status: beta's status writer reads the broken state and dies.
    os.kill(before["beta"], signal.SIGKILL)
    wait_until(
        lambda: "beta: status writer failed: StateError" in shared.stderr_text(),
        20,
        "beta's part failure",
    )
    wait_until(
        lambda: "core of instance beta stopped after a failure" in shared.stderr_text(),
        10,
        "a retry",
    )
    state.write_text(saved)
    wait_until(
        lambda: (
            (s := beta.node_status()).get("state") == "running"
            and s.get("pid") not in (None, before["beta"])
        ),
        30,
        "beta's node under a rebuilt core",
    )
    assert process.poll() is None
    after = shared.pids()
    assert after["alpha"] == before["alpha"]
    assert after["gamma"] == before["gamma"]
    answer = run_cli("status", "--json", "--config", beta.config_path, check=True)
    assert json.loads(answer.stdout)["node"]["state"] == "running"


def test_two_configs_naming_one_data_dir_are_refused_in_one_line(tmp_path: Path) -> None:
    first = CoreHarness(tmp_path / "a", instance="a")
    second = CoreHarness(tmp_path / "b", instance="b")
    for harness in (first, second):
        harness.root.mkdir()
    second.data_dir = first.data_dir
    result = run_cli(
        "run", "--config", first.write_config(), "--config", second.write_config(), timeout=30
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "paths.data_dir" in lines[0]
    assert str(first.config_path) in lines[0] and str(second.config_path) in lines[0]
    assert first.node_pids() == [] and second.node_pids() == []


def test_an_instance_already_served_elsewhere_refuses_the_whole_start(
    shared: SharedCore, core: CoreHarness
) -> None:
    core.start()
    command = ["run", "--config", str(core.config_path)]
    command += ["--config", str(shared.instances["alpha"].write_config())]
    result = run_cli(*command, timeout=30)
    assert result.returncode != 0
    assert str(core.data_dir) in result.stderr
    assert shared.instances["alpha"].node_pids() == []
