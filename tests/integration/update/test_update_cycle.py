"""The whole update cycle against a real core, a real TUF repository and nginx."""

from __future__ import annotations

import datetime
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.ipc.client import Client
from tests.fixtures.nginx import NginxServer
from tests.helpers import CoreHarness, wait_until
from tests.integration.update.release_repo import (
    ReleaseRepo,
    check,
    configure_updates,
    wait_version,
)


@pytest.fixture
def repo(tmp_path: Path) -> ReleaseRepo:
    repo = ReleaseRepo(tmp_path)
    repo.publish("1.0.0")
    repo.channel("--minimum", "1.0.0", "--suggested", "1.0.0", "--rollout", "100")
    return repo


@pytest.fixture
def server(repo: ReleaseRepo, nginx: Callable[[Path], NginxServer]) -> NginxServer:
    return nginx(repo.dir)


@pytest.fixture
def updating(core: CoreHarness, repo: ReleaseRepo, server: NginxServer) -> Iterator[CoreHarness]:
    configure_updates(core, repo, server.url + "/")
    core.start()
    wait_version(core, "1.0.0")
    yield core


class HealthWatcher(threading.Thread):
    """Polls the node's /api/sno every 10 ms and remembers when each version answered."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[tuple[float, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=0.5) as response:
                    self.answers.append((time.monotonic(), json.loads(response.read())["version"]))
            except (OSError, ValueError):
                pass
            time.sleep(0.01)


def events_since(core: CoreHarness, kind: str) -> list[dict[str, object]]:
    log = core.data_dir.parent / "logs" / f"nodekeeper-{core.instance}.log"
    return [{"line": line} for line in log.read_text().splitlines() if kind in line]


class EventRecorder(threading.Thread):
    """Subscribes to the core's socket and keeps every event with its (core) time."""

    def __init__(self, core: CoreHarness) -> None:
        super().__init__(daemon=True)
        self.client = Client(str(core.socket_path), timeout=60)
        self.events: list[tuple[str, datetime.datetime, dict[str, Any]]] = []

    def run(self) -> None:
        try:
            for kind, when, data in self.client.subscribe():
                stamp = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
                self.events.append((kind, stamp, data))
        except (OSError, NodekeeperError):
            pass

    def first(self, kind: str, **match: Any) -> datetime.datetime:
        return next(
            t
            for k, t, d in self.events
            if k == kind and all(d.get(f) == v for f, v in match.items())
        )


def test_happy_path_updates_to_the_published_version(
    updating: CoreHarness, repo: ReleaseRepo
) -> None:
    repo.publish("1.1.0")
    repo.channel("--suggested", "1.1.0", "--rollout", "100")
    watcher = HealthWatcher(f"http://127.0.0.1:{updating.port}/api/sno")
    watcher.start()
    recorder = EventRecorder(updating)
    recorder.start()
    decision = check(updating)
    assert decision == {"action": "update", "target": "1.1.0", "reason": decision["reason"]}
    status = wait_version(updating, "1.1.0")
    watcher.stop.set()
    watcher.join()
    recorder.client.close()
    assert status["updates"]["previous"] == "1.0.0"
    assert sorted(p.name for p in (updating.data_dir / "versions").iterdir()) == ["1.0.0", "1.1.0"]
    last_old = max(t for t, v in watcher.answers if v == "1.0.0")
    first_new = min(t for t, v in watcher.answers if v == "1.1.0")
    # nodekeeper's own share: from the old node's exit to the new node's start
    # (the rest is the old node stopping and the new one starting up).
    overhead = recorder.first("node-started", version="1.1.0") - recorder.first(
        "node-exited", reason="hold"
    )
    print(
        f"\nupdate downtime (last 1.0.0 answer -> first 1.1.0 answer): {first_new - last_old:.3f}s; "
        f"nodekeeper's own part (old node gone -> new node spawned): "
        f"{overhead.total_seconds():.3f}s"
    )
    assert [k for k, _, _ in recorder.events if k.startswith("update-")][-1] == "update-installed"
    # Nothing left to do afterwards.
    assert check(updating)["action"] == "none"


@pytest.mark.slow
def test_old_versions_are_pruned_to_keep_versions(updating: CoreHarness, repo: ReleaseRepo) -> None:
    for version in ("1.1.0", "1.2.0", "1.3.0"):
        repo.publish(version)
        repo.channel("--suggested", version)
        assert check(updating)["target"] == version
        wait_version(updating, version)
    # keep_versions = 3: current, previous and the newest other one.
    assert sorted(p.name for p in (updating.data_dir / "versions").iterdir()) == [
        "1.1.0",
        "1.2.0",
        "1.3.0",
    ]


FAULTS = {
    "fails-to-start": ["--fail-at-start"],
    "crashes-in-probation": ["--crash-after", "1"],
    "unhealthy-in-probation": ["--hang-after", "0.5"],
    "migration-without-space": ["--migration-min-free", "1000TiB", "--migration-path", "/"],
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_bad_release_is_rolled_back_quarantined_and_a_later_one_accepted(
    updating: CoreHarness, repo: ReleaseRepo, fault: str
) -> None:
    repo.publish("1.1.0", faults=FAULTS[fault])
    repo.channel("--suggested", "1.1.0", "--rollout", "100")
    assert check(updating)["target"] == "1.1.0"
    status = wait_until(
        lambda: (s := updating.status()) and "1.1.0" in s["updates"]["quarantined"] and s,
        60,
        "the rollback",
    )
    status = wait_version(updating, "1.0.0")
    assert status["updates"]["quarantined"] == ["1.1.0"]
    assert "1.1.0 failed probation" in (status["updates"]["last_error"] or "")
    # Never retried…
    again = check(updating)
    assert again["action"] == "none" and again["target"] is None
    # …but a newer release is.
    repo.publish("1.2.0")
    repo.channel("--suggested", "1.2.0")
    assert check(updating)["target"] == "1.2.0"
    wait_version(updating, "1.2.0")


def test_updates_off_reports_notify_and_installs_nothing(
    updating: CoreHarness, repo: ReleaseRepo
) -> None:
    from tests.integration.update.release_repo import nodekeeper

    nodekeeper("updates", "off", "--config", str(updating.config_path))
    repo.publish("1.1.0")
    repo.channel("--suggested", "1.1.0")
    decision = check(updating)
    assert decision["action"] == "notify" and decision["target"] == "1.1.0"
    time.sleep(1.5)
    status = wait_version(updating, "1.0.0")
    assert status["updates"]["state"] == "disabled"
    assert [p.name for p in (updating.data_dir / "versions").iterdir()] == ["1.0.0"]
    assert (
        not any((updating.data_dir / "downloads").glob("*"))
        if (updating.data_dir / "downloads").exists()
        else True
    )


def test_rollout_cursor_zero_updates_nobody_but_below_minimum_always_updates(
    updating: CoreHarness, repo: ReleaseRepo
) -> None:
    repo.publish("1.1.0")
    repo.channel("--suggested", "1.1.0", "--rollout", "0")
    assert check(updating)["action"] == "none"
    repo.channel("--minimum", "1.1.0")
    decision = check(updating)
    assert decision["action"] == "update" and decision["target"] == "1.1.0"
    wait_version(updating, "1.1.0")


@pytest.mark.slow
def test_a_revoked_release_returns_nodes_to_the_previous_one(
    updating: CoreHarness, repo: ReleaseRepo
) -> None:
    repo.publish("1.1.0")
    repo.channel("--suggested", "1.1.0")
    check(updating)
    wait_version(updating, "1.1.0")
    repo.channel("--revoke", "1.1.0")
    decision = check(updating)
    assert decision["action"] == "rollback" and decision["target"] == "1.0.0"
    wait_version(updating, "1.0.0")
