"""The core's own releases: published with `release add --process nodekeeper`, served by
nginx from a real TUF repository, checked and verified by a running core (the switch to
them: test_self_update.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.platform.ids import platform_id
from tests.fixtures.core_bundles import core_bundle
from tests.fixtures.nginx import NginxServer
from tests.helpers import CoreHarness, wait_until
from tests.integration.selfupdate.support import add_core_release
from tests.integration.update.release_repo import (
    ReleaseRepo,
    configure_updates,
    nodekeeper,
    wait_version,
)

NEW_CORE = "9.9.0"  # newer than any running core


def publish_core(repo: ReleaseRepo, version: str, archive: Path, *, check: bool = True) -> Any:
    return add_core_release(repo, version, archive, check=check)


@pytest.fixture
def repo(tmp_path: Path) -> ReleaseRepo:
    repo = ReleaseRepo(tmp_path)
    repo.publish("1.0.0")
    repo.channel("--minimum", "1.0.0", "--suggested", "1.0.0", "--rollout", "100")
    publish_core(repo, NEW_CORE, core_bundle(tmp_path / "dist", NEW_CORE, platform=platform_id()))
    repo.channel(
        "--process", "nodekeeper", "--minimum", NEW_CORE, "--suggested", NEW_CORE, "--rollout", "0"
    )  # below minimum, every core updates, whatever the rollout
    return repo


@pytest.fixture
def server(repo: ReleaseRepo, nginx: Callable[[Path], NginxServer]) -> NginxServer:
    return nginx(repo.dir)


@pytest.fixture
def running(core: CoreHarness, repo: ReleaseRepo, server: NginxServer) -> Iterator[CoreHarness]:
    # [self_update] is left out: it follows the tuf [updates] section.
    configure_updates(core, repo, server.url + "/")
    core.start()
    wait_version(core, "1.0.0")
    yield core


def cli(core: CoreHarness, *args: str, check: bool = True) -> Any:
    return nodekeeper(*args, "--config", str(core.config_path), check=check)


def self_update(core: CoreHarness) -> dict[str, Any]:
    status = core.status()
    assert status is not None
    part: dict[str, Any] = status["self_update"]
    return part


def core_log(core: CoreHarness) -> str:
    return (core.root / "logs" / f"nodekeeper-{core.instance}.log").read_text()


def test_a_tampered_core_bundle_is_refused(running: CoreHarness, repo: ReleaseRepo) -> None:
    [target] = (repo.dir / "targets" / "nodekeeper" / NEW_CORE).iterdir()
    target.write_bytes(bytes(target.stat().st_size))  # same size, other bytes
    decision = json.loads(cli(running, "check", "--self", "--json").stdout)
    assert decision["target"] == NEW_CORE
    part = wait_until(
        lambda: (s := self_update(running))["state"] == "error" and s, 60, "the refusal"
    )
    assert "SHA-256 does not match" in part["last_error"]
    versions = running.data_dir / "core" / "versions"
    assert not versions.exists() or list(versions.iterdir()) == []
    assert "switching to core" not in core_log(running)


def test_updates_off_for_the_core_only_reports(running: CoreHarness) -> None:
    out = cli(running, "updates", "off", "--self").stdout
    assert out.startswith("automatic updates of the core itself are off")
    wait_until(lambda: self_update(running)["enabled"] is False, 10, "the switch")
    assert running.status()["updates"]["enabled"] is True  # type: ignore[index]
    decision = json.loads(cli(running, "check", "--self", "--json").stdout)
    assert (decision["action"], decision["target"]) == ("notify", NEW_CORE)
    part = wait_until(
        lambda: (s := self_update(running))["latest"] == NEW_CORE and s, 30, "latest shown"
    )
    assert (part["enabled"], part["state"]) == (False, "disabled")
    assert not (running.data_dir / "core" / "versions").exists()
    state = json.loads((running.data_dir / "state.json").read_text())
    assert state["self_update"]["updates_enabled"] is False
    assert state["updates_enabled"] is None


def test_release_add_refuses_what_is_not_a_core_bundle(repo: ReleaseRepo, tmp_path: Path) -> None:
    node_zip = tmp_path / "release-1.0.0.zip"
    refused = publish_core(repo, "9.9.1", node_zip, check=False)
    assert refused.returncode == 2
    assert "not a core bundle" in refused.stderr and len(refused.stderr.splitlines()) == 1
    other = core_bundle(tmp_path / "other", "9.9.2", platform=platform_id())
    refused = publish_core(repo, "9.9.3", other, check=False)
    assert refused.returncode == 2 and "holds version 9.9.2, expected 9.9.3" in refused.stderr
    assert not (repo.dir / "targets" / "nodekeeper" / "9.9.1").exists()


def test_updates_on_and_off_for_both(running: CoreHarness) -> None:
    out = cli(running, "updates", "off", "--self", "--node").stdout
    assert out.startswith("automatic updates of the node and of the core itself are off")
    state = json.loads((running.data_dir / "state.json").read_text())
    assert (state["updates_enabled"], state["self_update"]["updates_enabled"]) == (False, False)
    assert cli(running, "updates", "on", "--node").stdout.startswith("automatic updates are on")
    state = json.loads((running.data_dir / "state.json").read_text())
    assert (state["updates_enabled"], state["self_update"]["updates_enabled"]) == (True, False)
