"""The launcher step in a real core: it exec's the installed current core, in the same process."""

from __future__ import annotations

import json

from nodekeeper.core.selfupdate.devbuild import write_dev_bundle
from nodekeeper.core.selfupdate.store import CoreStore
from tests.helpers import CoreHarness, wait_until


def install_dev_core(core: CoreHarness, version: str, *, broken: bool = False) -> None:
    store = CoreStore(core.data_dir)
    store.root.mkdir(parents=True, exist_ok=True)
    folder = write_dev_bundle(core.root / "builds", version, broken=broken)
    folder.rename(store.path(version))


def set_self_update(core: CoreHarness, **fields: object) -> None:
    path = core.data_dir / "state.json"
    state = json.loads(path.read_text()) if path.exists() else {"schema": 1}
    state["self_update"] = {**state.get("self_update", {}), **fields}
    path.write_text(json.dumps(state))


def test_the_packaged_core_becomes_the_installed_current_core(core: CoreHarness) -> None:
    core.data_dir.mkdir(parents=True)
    install_dev_core(core, "0.2.1")
    set_self_update(core, current="0.2.1")
    process = core.start()
    status = wait_until(core.status, 10, "status")
    assert status["core_version"] == "0.2.1"
    # One process all along: the service manager's pid is the core's.
    lock_holder = (core.data_dir / "core.lock").read_text().strip()
    assert lock_holder == str(process.pid)
    assert "starting core 0.2.1" in core.stderr_text()


def test_a_current_core_that_cannot_start_leaves_the_packaged_core_running(
    core: CoreHarness,
) -> None:
    core.data_dir.mkdir(parents=True)
    install_dev_core(core, "0.2.1")
    (CoreStore(core.data_dir).path("0.2.1") / "nodekeeper").unlink()
    set_self_update(core, current="0.2.1")
    core.start()
    status = wait_until(core.status, 10, "status")
    assert status["core_version"] == "0.2.0"
    assert "cannot start core 0.2.1" in core.stderr_text()
