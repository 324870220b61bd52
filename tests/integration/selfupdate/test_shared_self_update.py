"""A core process serving several instances updates itself: every node keeps its pid.

The first instance's core runs the process's own updates (its data dir holds
the core store and the state); a switch hands every instance over in one exec.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nodekeeper.core import __version__
from tests.fixtures.nginx import NginxServer
from tests.helpers import SharedCore, wait_until
from tests.integration.selfupdate.support import (
    CoreReleases,
    ServiceManager,
    check_core,
    configure_self_update,
    node_at_1_0_0,
    self_update_state,
    wait_core,
)
from tests.integration.update.release_repo import configure_updates, wait_version


@pytest.fixture
def repo(tmp_path: Path) -> CoreReleases:
    return node_at_1_0_0(tmp_path / "releases")


@pytest.fixture
def managed(
    tmp_path: Path, repo: CoreReleases, nginx: Callable[[Path], NginxServer]
) -> Iterator[tuple[SharedCore, ServiceManager]]:
    server = nginx(repo.dir)
    shared = SharedCore(tmp_path / "cores", ("alpha", "beta"))
    configure_self_update(shared.lead, repo, server.url + "/")
    configure_updates(shared.instances["beta"], repo, server.url + "/")
    try:
        shared.start()
        for harness in shared.instances.values():
            wait_version(harness, "1.0.0")
        manager = ServiceManager(shared)
        manager.start()
        try:
            yield shared, manager
        finally:
            manager.stop()
    finally:
        shared.cleanup()


def core_version(shared: SharedCore, name: str) -> str | None:
    status = shared.instances[name].status()
    return None if status is None else status.get("core_version")


def test_the_shared_core_updates_itself_and_every_node_keeps_its_pid(
    managed: tuple[SharedCore, ServiceManager], repo: CoreReleases
) -> None:
    shared, manager = managed
    pids = shared.pids()
    process = shared.process.pid if shared.process else None
    repo.publish_core("0.2.1")
    decision = check_core(shared.lead)
    assert decision["action"] == "update" and decision["target"] == "0.2.1"
    wait_core(shared.lead, "0.2.1")
    wait_until(lambda: core_version(shared, "beta") == "0.2.1", 30, "beta served by core 0.2.1")
    assert shared.pids() == pids
    assert shared.process is not None and shared.process.pid == process  # exec: one process
    assert manager.restarts == 0
    assert self_update_state(shared.lead)["current"] == "0.2.1"
    for harness in shared.instances.values():
        assert not (harness.data_dir / "handover.json").exists()
    assert (shared.instances["beta"].status() or {}).get("shared_with") == ["alpha"]
    manager.stop()
    assert shared.stop() == 0


def test_a_broken_build_is_rolled_back_for_every_instance(
    managed: tuple[SharedCore, ServiceManager], repo: CoreReleases
) -> None:
    shared, manager = managed
    pids = shared.pids()
    repo.publish_core("0.2.2", broken=True)
    check_core(shared.lead)
    wait_until(
        lambda: "0.2.2" in self_update_state(shared.lead).get("quarantined", []), 60, "quarantine"
    )
    wait_core(shared.lead, __version__)
    wait_until(lambda: core_version(shared, "beta") == __version__, 30, "beta back")
    assert shared.pids() == pids
    assert manager.restarts >= 1
