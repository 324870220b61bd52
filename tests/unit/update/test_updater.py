"""The update cycle driven with an in-memory node and release source.

No subprocesses, sockets or sleeping: the node is a fake that satisfies
``NodeControl``, the release source hands out zips built in memory, the
smoke test is a stub and the updater's waits return at once (``sleep=``).
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.config import config_from_dict
from nodekeeper.core.events import Event, EventBus
from nodekeeper.core.state import StateStore
from nodekeeper.core.update.channel import Channel, Release, Rollout
from nodekeeper.core.update.node import NodeControl
from nodekeeper.core.update.smoke import SmokeTestFailed
from nodekeeper.core.update.store import VersionStore
from nodekeeper.core.update.updater import Updater

OLD, NEW = "1.0.0", "1.1.0"
EVERYONE = Rollout(seed=bytes(32), cursor=b"\xff" * 32)


@dataclass
class FakeNode:
    """A node that obeys at once; ``crash_on_release`` makes the next start crash."""

    bus: EventBus
    calls: list[str] = field(default_factory=list)
    healthy: bool = True
    crash_on_release: bool = False
    running: bool = True
    stopped_by_operator: bool = False
    slept: list[float] = field(default_factory=list)

    async def hold(self, reason: str) -> None:
        self.calls.append(f"hold:{reason}")
        self.running = False
        self.bus.publish("node-exited", {"requested": True, "reason": reason})

    async def release(self) -> None:
        self.calls.append("release")
        self.running = True
        if self.crash_on_release:
            self.crash_on_release = False
            self.running = False
            self.bus.publish("node-exited", {"requested": False, "detail": "exit code 2"})

    async def wait_until_healthy(self, timeout: float) -> bool:
        self.calls.append(f"wait:{timeout:g}")
        await asyncio.sleep(0)  # let the crash event arrive first, as it would
        return self.running and self.healthy

    def status(self) -> dict[str, Any]:
        state = "running" if self.running else "backoff"
        if self.stopped_by_operator:
            state = "stopped"
        return {
            "state": state,
            "healthy": self.running and self.healthy,
            "stopped_by_operator": self.stopped_by_operator,
        }


def zip_holding(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o755 << 16
        archive.writestr(info, content)
    return buffer.getvalue()


@dataclass
class MemorySource:
    """A release source that publishes ``suggested`` and hands out in-memory zips."""

    suggested: str = NEW
    name: str = "memory"
    fetched: list[str] = field(default_factory=list)

    def fetch_channel(self) -> Channel:
        return Channel("storagenode", None, Release(self.suggested, "mem://"), EVERYONE)

    def fetch_release(
        self, release: Release, downloads: Path, *, min_free_space: int, progress: Any
    ) -> Path:
        self.fetched.append(release.version)
        downloads.mkdir(parents=True, exist_ok=True)
        path = downloads / f"{release.version}.zip"
        body = zip_holding("storagenode", f"#!/bin/sh\necho {release.version}\n".encode())
        path.write_bytes(body)
        if progress is not None:
            progress(len(body), len(body))
        return path


@dataclass
class Rig:
    updater: Updater
    node: FakeNode
    source: MemorySource
    states: StateStore
    store: VersionStore
    events: list[Event]
    smoked: list[str]

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events if not e.kind.startswith("node-")]


def make_rig(tmp_path: Path, *, keep_versions: int = 3, smoke_fails: bool = False) -> Rig:
    data_dir = tmp_path / "data"
    config = config_from_dict(
        {
            "node": {"command": ["{binary}", "run"]},
            "updates": {
                "source": "storj",
                "url": "https://version.example.org/",
                "probation": "5m",
                "keep_versions": keep_versions,
                "min_free_space": 0,
            },
            "paths": {"data_dir": str(data_dir), "socket": str(tmp_path / "core.sock")},
        },
        tmp_path / "nodekeeper.toml",
    )
    data_dir.mkdir()
    states = StateStore(data_dir / "state.json")
    store = VersionStore(data_dir, "storagenode")
    store.install_file(OLD, _executable(tmp_path))
    states.update(current=OLD)
    bus = EventBus()
    node = FakeNode(bus)
    source = MemorySource()
    smoked: list[str] = []
    events: list[Event] = []
    bus.subscribe(events.append)

    def smoke(binary: Path, version: str) -> None:
        smoked.append(version)
        if smoke_fails:
            raise SmokeTestFailed(f"{binary} did not report {version}")

    async def no_wait(seconds: float) -> None:
        node.slept.append(seconds)

    node_control: NodeControl = node
    updater = Updater(
        config,
        states=states,
        store=store,
        node=node_control,
        bus=bus,
        source=source,
        node_id=bytes(32),
        sleep=no_wait,
        smoke=smoke,
    )
    return Rig(updater, node, source, states, store, events, smoked)


def _executable(tmp_path: Path) -> Path:
    path = tmp_path / "storagenode"
    path.write_text("#!/bin/sh\n")
    return path


def test_update_holds_the_node_switches_and_commits_after_probation(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    decision = asyncio.run(rig.updater.check())
    assert decision.action == "update"
    state = rig.states.load()
    assert (state.current, state.previous, state.pending) == (NEW, OLD, None)
    assert rig.node.calls == ["hold:update", "release", "wait:300"]
    assert rig.node.slept[-1] == pytest.approx(300, abs=1)
    assert rig.smoked == [NEW, NEW]  # after unpacking, and again just before switching
    assert rig.kinds() == ["update-started", "update-progress", "update-installed"]
    assert rig.updater.status()["state"] == "idle"
    assert not list((tmp_path / "data" / "downloads").iterdir())


def test_crash_during_probation_rolls_back_and_quarantines(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.node.crash_on_release = True
    asyncio.run(rig.updater.check())
    state = rig.states.load()
    assert (state.current, state.previous, state.pending) == (OLD, None, None)
    assert state.quarantined == (NEW,)
    assert rig.node.calls[-2:] == ["hold:update", "release"]
    rolled = [e for e in rig.events if e.kind == "rolled-back"]
    assert rolled[0].data == {"from": NEW, "to": OLD, "reason": "node-exited: exit code 2"}
    assert f"{NEW} failed probation" in (rig.updater.status()["last_error"] or "")


def test_never_healthy_node_fails_probation(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.node.healthy = False
    asyncio.run(rig.updater.check())
    assert rig.states.load().current == OLD
    rolled = [e for e in rig.events if e.kind == "rolled-back"]
    assert rolled[0].data["reason"] == "not running and healthy after 300s of probation (running)"
    assert (
        max(rig.node.slept, default=0.0) == 0.0
    )  # no use waiting out probation for a node that never got healthy


def test_quarantined_version_is_not_retried(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.node.crash_on_release = True
    asyncio.run(rig.updater.check())
    calls = len(rig.node.calls)
    decision = asyncio.run(rig.updater.check())
    assert decision.action == "none"
    assert len(rig.node.calls) == calls
    assert rig.source.fetched == [NEW]


def test_failed_smoke_test_leaves_the_node_alone(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, smoke_fails=True)
    asyncio.run(rig.updater.check())
    assert rig.node.calls == []
    assert rig.states.load().current == OLD
    assert not rig.store.has(NEW)
    failed = [e for e in rig.events if e.kind == "update-failed"]
    assert f"installing {NEW} failed 4 times" in failed[0].data["reason"]
    assert rig.updater.status()["state"] == "error"


def test_old_versions_are_pruned_down_to_keep_versions(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, keep_versions=2)
    for version in ("0.8.0", "0.9.0"):
        rig.store.install_file(version, _executable(tmp_path))
    asyncio.run(rig.updater.check())
    assert rig.store.installed() == [OLD, NEW]
    assert rig.states.load().installed == (OLD, NEW)


def test_pending_switch_resumes_probation_at_start(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.store.install_file(NEW, _executable(tmp_path))
    rig.states.update(
        current=NEW,
        previous=OLD,
        pending={"from": OLD, "to": NEW, "started": "2026-12-01T00:00:00Z"},
    )

    async def start_and_stop() -> None:
        task = asyncio.create_task(rig.updater.run())
        for _ in range(50):
            await asyncio.sleep(0)
            if rig.states.load().pending is None:
                break
        task.cancel()

    asyncio.run(start_and_stop())
    state = rig.states.load()
    assert (state.current, state.previous, state.pending) == (NEW, OLD, None)
    assert rig.node.calls == ["wait:300"]


def test_updates_wait_while_the_operator_keeps_the_node_stopped(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.node.stopped_by_operator = True
    decision = asyncio.run(rig.updater.check())
    assert decision.action == "update" and str(decision.target) == NEW
    assert decision.reason.endswith("waits: the node is stopped by the operator")
    assert rig.node.calls == [] and rig.states.load().current == OLD
    assert rig.kinds() == []
    assert rig.updater.status()["suggested"] == NEW  # the check itself still reports
    rig.node.stopped_by_operator = False
    asyncio.run(rig.updater.check())
    assert rig.states.load().current == NEW


def test_the_last_failure_outlasts_a_quiet_check_until_another_replaces_it(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, smoke_fails=True)
    asyncio.run(rig.updater.check())
    failure = rig.updater.status()["last_failure"]
    assert failure is not None and "did not report" in failure["message"]
    rig.states.update(quarantined=(NEW,))  # the next check is quiet: nothing to do
    asyncio.run(rig.updater.check())
    status = rig.updater.status()
    assert status["last_error"] is None  # the contract's field: the current trouble
    assert status["last_failure"] == failure
