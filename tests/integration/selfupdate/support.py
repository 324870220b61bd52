"""Self-update tests: core releases in a real TUF repository, and a stand-in service manager."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from nodekeeper.core.selfupdate.devbuild import pack_bundle, write_dev_bundle
from nodekeeper.core.selfupdate.manifest import this_platform
from tests.helpers import CoreHarness, wait_until
from tests.integration.update.release_repo import ReleaseRepo, configure_updates, nodekeeper


def add_core_release(
    repo: ReleaseRepo, version: str, archive: Path, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``nodekeeper release add --process nodekeeper`` for this platform."""
    return nodekeeper(
        "release", "add", str(repo.dir), "--key-file", str(repo.keys),
        "--process", "nodekeeper", "--version", version,
        "--platform", this_platform(), "--file", str(archive),
        check=check,
    )  # fmt: skip


def node_at_1_0_0(root: Path) -> CoreReleases:
    """A release repository under ``root`` whose node channel has 1.0.0, and no core yet."""
    repo = CoreReleases(root)
    repo.publish("1.0.0")
    repo.channel("--minimum", "1.0.0", "--suggested", "1.0.0", "--rollout", "100")
    return repo


class CoreReleases(ReleaseRepo):
    """A release repository that also publishes cores on the ``nodekeeper`` channel."""

    def build_core(self, version: str, *, broken: bool = False, body: str | None = None) -> Path:
        """A development build of this install as core ``version``, packed for ``release add``.

        ``body`` replaces what its launcher script does (a core that hangs, say)."""
        folder = write_dev_bundle(self.root / "core-builds", version, broken=broken)
        if body is not None:
            entry = folder / "nodekeeper"
            head = entry.read_text().split("\n")[:4]  # shebang, comment, bundle dir
            entry.write_text("\n".join([*head, body, ""]))
        return pack_bundle(folder)

    def publish_core(self, version: str, **build: Any) -> None:
        add_core_release(self, version, self.build_core(version, **build))
        nodekeeper(
            "release", "channel", str(self.dir), "--key-file", str(self.keys),
            "--process", "nodekeeper", "--suggested", version, "--rollout", "100",
        )  # fmt: skip


def configure_self_update(
    core: CoreHarness, repo: CoreReleases, url: str, **overrides: Any
) -> None:
    """The node and the core both from ``repo``; checks only on demand."""
    configure_updates(core, repo, url)
    core.extra["self_update"] = {"probation": "20s", **overrides}


def check_core(core: CoreHarness) -> dict[str, Any]:
    result = nodekeeper("check", "--self", "--json", "--config", str(core.config_path))
    decision: dict[str, Any] = json.loads(result.stdout)
    return decision


def self_update_state(core: CoreHarness) -> dict[str, Any]:
    state = json.loads((core.data_dir / "state.json").read_text())
    saved: dict[str, Any] = state.get("self_update") or {}
    return saved


def wait_core(core: CoreHarness, version: str, timeout: float = 60) -> dict[str, Any]:
    """Wait until core ``version`` runs, committed, with the node running."""

    def settled() -> dict[str, Any] | None:
        status = core.status()
        if not status or status.get("core_version") != version:
            return None
        if status["node"]["state"] != "running":
            return None
        saved = self_update_state(core)
        return status if saved.get("trying") is None else None

    result: dict[str, Any] = wait_until(settled, timeout, f"core {version} committed", 0.1)
    return result


class ServiceManager(threading.Thread):
    """Restarts the core whenever it exits, as systemd's Restart=always would."""

    def __init__(self, core: CoreHarness, delay: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.core = core
        self.delay = delay
        self.restarts = 0
        self.exit_codes: list[int] = []
        self.done = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.done.wait(0.05):
            with self.lock:
                process = self.core.process
                if process is None or process.poll() is None:
                    continue
                self.exit_codes.append(process.returncode)
                time.sleep(self.delay)
                self.core.start(wait_running=False)
                self.restarts += 1

    def stop(self) -> None:
        self.done.set()
        self.join()


def publish_core_in_process(repo: CoreReleases, version: str) -> None:
    """``release add`` and ``release channel --suggested`` in one signed step, in this process
    (the same repository code as the CLI, without two process starts per release)."""
    from datetime import UTC, datetime

    from nodekeeper.core.release.channels import (
        CORE_PROCESS,
        ChannelChange,
        artifact_path,
        channel_path,
        encode_channel,
        next_channel,
        parse_version,
        published_versions,
    )
    from nodekeeper.core.release.keystore import open_keystore
    from nodekeeper.core.release.repository import Repository

    archive = repo.build_core(version)
    os_name, arch = this_platform().split("-", 1)
    store = Repository.load(repo.dir, open_keystore(repo.keys, repo.dir))
    artifact = artifact_path(CORE_PROCESS, parse_version(version), os_name, arch)
    store.add_targets({artifact: archive}, datetime.now(UTC))
    path = channel_path(CORE_PROCESS)
    raw = store.read_target(path)
    current = json.loads(raw) if raw else None
    change = ChannelChange(suggested=version, rollout_percent=100)
    channel = next_channel(
        current,
        CORE_PROCESS,
        change,
        published_versions(store.targets.signed.targets, CORE_PROCESS),
    )
    store.add_targets({path: encode_channel(channel)}, datetime.now(UTC))
