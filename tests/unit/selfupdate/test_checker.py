"""SelfUpdater: the node's decision rules applied to the running core, install, then switch."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nodekeeper.core.config import config_from_dict
from nodekeeper.core.selfupdate.checker import SelfUpdater
from nodekeeper.core.selfupdate.state import SelfUpdateState
from nodekeeper.core.selfupdate.store import CoreStore
from nodekeeper.core.state import StateStore
from nodekeeper.core.update.channel import Channel, Release, Rollout
from nodekeeper.core.update.errors import UpdateError, VerificationError
from nodekeeper.core.update.sources.factory import Progress
from tests.fixtures.core_bundles import core_bundle

PLATFORM = "linux-amd64"
EVERYBODY = Rollout(bytes(32), b"\xff" * 32)
NOBODY = Rollout(bytes(32), bytes(32))


@dataclass
class MemorySource:
    """A release source holding channels and bundle archives in a folder."""

    dist: Path
    channel: Channel | None = None
    tampered: bool = False
    fetched: list[str] = field(default_factory=list)
    name: str = "tuf"

    def fetch_channel(self) -> Channel:
        assert self.channel is not None
        return self.channel

    def fetch_release(
        self, release: Release, downloads: Path, *, min_free_space: int, progress: Progress | None
    ) -> Path:
        self.fetched.append(release.version)
        if self.tampered:
            raise VerificationError(f"{release.url}: SHA-256 does not match the signed value")
        downloads.mkdir(parents=True, exist_ok=True)
        archive = core_bundle(self.dist, release.version, platform=PLATFORM)
        return Path(shutil.copy(archive, downloads / archive.name))


def publish(
    suggested: str,
    *,
    minimum: str | None = None,
    rollout: Rollout = EVERYBODY,
    revoked: tuple[str, ...] = (),
) -> Channel:
    def release(v: str) -> Release:
        return Release(v, f"nodekeeper/{v}/{{os}}-{{arch}}.bundle")

    return Channel(
        "nodekeeper", release(minimum) if minimum else None, release(suggested), rollout, revoked
    )


@dataclass
class Rig:
    updater: SelfUpdater
    source: MemorySource
    states: StateStore
    store: CoreStore
    switched: list[str]


def make_rig(tmp_path: Path, *, running: str = "0.2.0", enabled: bool = True) -> Rig:
    data_dir = tmp_path / "data"
    config = config_from_dict(
        {
            "node": {"command": ["{binary}", "run"]},
            "updates": {"min_free_space": 0},
            "self_update": {
                "enabled": enabled,
                "url": "https://releases.example/",
                "trusted_root": str(tmp_path / "root.json"),
            },
            "paths": {"data_dir": str(data_dir), "socket": str(tmp_path / "core.sock")},
        },
        tmp_path / "nodekeeper.toml",
    )
    states = StateStore(data_dir / "state.json")
    store = CoreStore(data_dir, platform=PLATFORM)
    source = MemorySource(tmp_path / "dist")
    switched: list[str] = []

    async def switch(version: str) -> None:
        switched.append(version)  # a real switch never returns

    updater = SelfUpdater(
        config,
        states=states,
        store=store,
        source=source,
        node_id=bytes(32),
        switch=switch,
        running=lambda: running,
    )
    return Rig(updater, source, states, store, switched)


def check(rig: Rig) -> str:
    decision = asyncio.run(rig.updater.check())
    return f"{decision.action} {decision.target}"


def test_a_suggested_core_is_installed_then_switched_to(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.source.channel = publish("0.3.0")
    with pytest.raises(UpdateError, match=r"the switch to core 0\.3\.0 did not take place"):
        check(rig)  # the switch returned: counted as a failure for the back-off
    assert rig.store.installed() == ("0.3.0",)
    assert rig.switched == ["0.3.0"]
    status = rig.updater.status()
    assert (status["current"], status["latest"], status["state"]) == ("0.2.0", "0.3.0", "error")
    failure = rig.states.load().self_update.last_failure
    assert failure is not None and failure["version"] == "0.3.0"


def test_up_to_date_rolling_out_and_quarantined_cores_are_left_alone(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.source.channel = publish("0.2.0")
    assert check(rig) == "none None"
    rig.source.channel = publish("0.3.0", rollout=NOBODY)
    assert check(rig) == "none None"
    rig.states.update(self_update=SelfUpdateState(quarantined=("0.3.0",)))
    rig.source.channel = publish("0.3.0", minimum="0.3.0")
    assert check(rig) == "none None"
    assert rig.source.fetched == [] and rig.switched == []


def test_minimum_applies_even_outside_the_rollout(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.source.channel = publish("0.4.0", minimum="0.3.0", rollout=NOBODY)
    with pytest.raises(UpdateError):
        check(rig)
    assert rig.switched == ["0.3.0"]


def test_a_revoked_running_core_goes_back(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, running="0.3.0")
    rig.source.channel = publish("0.2.5", minimum="0.2.5", revoked=("0.3.0",))
    with pytest.raises(UpdateError):
        check(rig)
    assert rig.switched == ["0.2.5"]


def test_with_updates_off_it_reports_and_installs_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, enabled=False)
    rig.source.channel = publish("0.3.0")
    assert check(rig) == "notify 0.3.0"
    status = rig.updater.status()
    assert (status["enabled"], status["state"], status["latest"]) == (False, "disabled", "0.3.0")
    rig.states.update(self_update=SelfUpdateState(updates_enabled=True))  # `updates on --self`
    assert rig.updater.enabled()
    assert rig.store.installed() == () and rig.switched == []


def test_a_tampered_bundle_installs_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.source.channel = publish("0.3.0")
    rig.source.tampered = True
    with pytest.raises(UpdateError):
        check(rig)
    assert rig.store.installed() == () and rig.switched == []
    assert "SHA-256 does not match" in str(rig.updater.status()["last_error"])


def test_a_development_core_does_not_update_itself(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, running="0.3.0.dev1+local")
    rig.source.channel = publish("0.3.0")
    with pytest.raises(UpdateError, match="is not a release version"):
        check(rig)


def test_an_installed_core_replaces_unused_ones_but_never_what_runs(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    for version in ("0.2.5", "0.3.0"):
        rig.source.channel = publish(version)
        with pytest.raises(UpdateError):
            check(rig)
    assert rig.store.installed() == ("0.3.0",)
    rig.states.update(self_update=SelfUpdateState(current="0.3.0"))
    rig.source.channel = publish("0.4.0")
    with pytest.raises(UpdateError):
        check(rig)
    assert rig.store.installed() == ("0.3.0", "0.4.0")


def test_a_switch_that_raises_is_a_failed_switch_not_a_crash(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.source.channel = publish("0.3.0")

    async def broken(version: str) -> None:
        raise RuntimeError("exec failed")

    rig.updater._switch = broken
    with pytest.raises(UpdateError, match="RuntimeError: exec failed"):
        check(rig)
    assert rig.store.installed() == ("0.3.0",)
    failure = rig.states.load().self_update.last_failure
    assert failure is not None and failure["reason"] == "RuntimeError: exec failed"
