"""The core updates itself from the signed channel while the node keeps running.

A real core (this install), a real TUF repository served by nginx, core
releases that are development builds of this install stamped with new
versions (core/selfupdate/devbuild.py), and the demo node.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nodekeeper.core import __version__
from nodekeeper.core.selfupdate.manifest import this_platform
from tests.fixtures.nginx import NginxServer
from tests.helpers import CoreHarness, wait_until
from tests.integration.selfupdate.support import (
    CoreReleases,
    ServiceManager,
    check_core,
    configure_self_update,
    node_at_1_0_0,
    self_update_state,
    wait_core,
)
from tests.integration.update.release_repo import nodekeeper, wait_version

NUMBER = re.compile(rb'"n": (\d+)}$')


@pytest.fixture
def repo(tmp_path: Path) -> CoreReleases:
    return node_at_1_0_0(tmp_path)


@pytest.fixture
def managed(
    core: CoreHarness, repo: CoreReleases, nginx: Callable[[Path], NginxServer]
) -> Iterator[tuple[CoreHarness, ServiceManager]]:
    server = nginx(repo.dir)
    configure_self_update(core, repo, server.url + "/")
    core.node["command"] = [*core.node["command"], "--log-rate", "200"]
    core.start()
    wait_version(core, "1.0.0")
    manager = ServiceManager(core)
    manager.start()
    try:
        yield core, manager
    finally:
        manager.stop()


def node_numbers(core: CoreHarness) -> list[int]:
    log = core.root / "logs" / f"{core.instance}.log"
    return [int(m.group(1)) for line in log.read_bytes().splitlines() if (m := NUMBER.search(line))]


def test_the_core_updates_itself_and_the_node_keeps_its_pid_and_every_line(
    managed: tuple[CoreHarness, ServiceManager], repo: CoreReleases
) -> None:
    core, manager = managed
    node_pid = core.node_status()["pid"]
    core_pid = core.process.pid if core.process else None
    repo.publish_core("0.2.1")
    decision = check_core(core)
    assert decision["action"] == "update" and decision["target"] == "0.2.1"
    status = wait_core(core, "0.2.1")
    assert status["node"]["pid"] == node_pid
    assert core.process is not None and core.process.pid == core_pid  # exec: one process
    assert manager.restarts == 0
    saved = self_update_state(core)
    assert saved["current"] == "0.2.1"
    assert saved["previous"] is None
    assert saved["quarantined"] == []
    assert status["self_update"]["current"] == "0.2.1"
    assert not (core.data_dir / "handover.json").exists()
    folder = core.data_dir / "core" / "versions" / "0.2.1"
    manifest = json.loads((folder / "nodekeeper-bundle.json").read_text())
    assert (manifest["version"], manifest["platform"]) == ("0.2.1", this_platform())
    # Both versions and update states, one line each.
    text = nodekeeper("status", "--config", str(core.config_path)).stdout
    assert any(line.startswith("updates   on,") for line in text.splitlines()), text
    assert any(line.startswith("core      0.2.1, self-update on,") for line in text.splitlines())
    # No line lost or written twice across the switch: the demo node numbers its lines.
    assert core.stop() == 0
    numbers = node_numbers(core)
    assert len(numbers) > 200
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_a_core_build_that_dies_at_start_is_rolled_back_and_the_node_kept(
    managed: tuple[CoreHarness, ServiceManager], repo: CoreReleases
) -> None:
    core, manager = managed
    node_pid = core.node_status()["pid"]
    repo.publish_core("0.2.2", broken=True)
    check_core(core)
    wait_until(lambda: "0.2.2" in self_update_state(core).get("quarantined", []), 60, "quarantine")
    status = wait_core(core, __version__)
    assert status["node"]["pid"] == node_pid
    assert manager.restarts >= 1
    saved = self_update_state(core)
    assert saved["last_failure"]["version"] == "0.2.2"
    assert "before it was committed" in saved["last_failure"]["reason"]
    assert "core 0.2.2: the new core stopped before it was committed" in core.stderr_text()
    # Never again: the next check does not pick the quarantined core.
    assert check_core(core)["action"] != "update"


def test_a_core_that_hangs_is_killed_by_the_guard_and_rolled_back(
    managed: tuple[CoreHarness, ServiceManager], repo: CoreReleases
) -> None:
    core, _manager = managed
    core.extra["self_update"]["probation"] = "2s"
    core.write_config()
    # Re-read the config: SIGHUP reloads it (probation is read at each switch).
    core.process.send_signal(1) if core.process else None
    node_pid = core.node_status()["pid"]
    # Passes the start test, then hangs as a core that never answers would.
    hang = 'case "$1" in --version) echo "nodekeeper 0.2.3"; exit 0 ;; esac\nexec sleep 3600'
    repo.publish_core("0.2.3", body=hang)
    check_core(core)
    wait_until(lambda: "0.2.3" in self_update_state(core).get("quarantined", []), 90, "quarantine")
    status = wait_core(core, __version__)
    assert status["node"]["pid"] == node_pid
    assert "did not commit within" in core.stderr_text()


def test_the_operator_rolls_the_core_back_and_the_node_keeps_its_pid(
    managed: tuple[CoreHarness, ServiceManager], repo: CoreReleases
) -> None:
    core, manager = managed
    node_pid = core.node_status()["pid"]
    repo.publish_core("0.2.1")
    check_core(core)
    wait_core(core, "0.2.1")
    dry = nodekeeper("core-rollback", "--dry-run", "--config", str(core.config_path))
    assert dry.stdout.strip() == (
        f"would switch core 0.2.1 back to core {__version__}; the node (pid {node_pid}) keeps "
        "running; 0.2.1 would be quarantined"
    )
    assert self_update_state(core)["current"] == "0.2.1"  # nothing changed
    done = nodekeeper("core-rollback", "--config", str(core.config_path))
    assert done.stdout.startswith(f"switching core 0.2.1 back to core {__version__}")
    wait_until(lambda: self_update_state(core).get("current") is None, 30, "the packaged core")
    status = wait_core(core, __version__)
    assert status["node"]["pid"] == node_pid
    assert manager.restarts == 0
    saved = self_update_state(core)
    assert saved["quarantined"] == ["0.2.1"]
    assert saved["previous"] == "0.2.1"
    # Back on the packaged core there is nothing earlier to go to.
    again = nodekeeper("core-rollback", "--config", str(core.config_path), check=False)
    assert again.returncode != 0
    assert "there is no earlier core to go back to" in again.stderr
