"""A signed release repository published with the real `nodekeeper release` commands.

Used by the update-cycle tests: releases are demo-node zips (or a faulty
wrapper around the demo node), served by nginx, consumed by a real core.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from nodekeeper.core.demo.package import build_faulty_release_zip, build_release_zip
from nodekeeper.core.platform.ids import platform_id
from tests.helpers import CoreHarness, run_cli, wait_until


def nodekeeper(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=120, check=check)


class ReleaseRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "repo"
        self.keys = root / "release-keys.json"
        nodekeeper("release", "init", str(self.dir), "--key-file", str(self.keys))

    @property
    def trusted_root(self) -> Path:
        return self.dir / "metadata" / "1.root.json"

    def publish(self, version: str, faults: list[str] | None = None) -> None:
        archive = self.root / f"release-{version}.zip"
        if faults:
            build_faulty_release_zip(version, archive, faults)
        else:
            build_release_zip(version, archive)
        nodekeeper(
            "release",
            "add",
            str(self.dir),
            "--key-file",
            str(self.keys),
            "--version",
            version,
            "--platform",
            platform_id(),
            "--file",
            str(archive),
        )

    def channel(self, *args: str) -> None:
        nodekeeper("release", "channel", str(self.dir), "--key-file", str(self.keys), *args)


def configure_updates(core: CoreHarness, repo: ReleaseRepo, url: str, **overrides: Any) -> None:
    """Point ``core`` at ``repo``: TUF source, version 1.0.0 adopted, checks only on demand."""
    from nodekeeper.core.demo.package import build_release_binary

    binary = build_release_binary("1.0.0", core.root / "initial" / "storagenode")
    core.node["command"] = ["{binary}", "run", "--port", str(core.port), "--pid-file", core.marker]
    core.node["initial_binary"] = str(binary)
    core.extra["updates"] = {
        "enabled": True,
        "source": "tuf",
        "url": url,
        "trusted_root": str(repo.trusted_root),
        "allow_http": True,
        "startup_delay": "1h",
        "interval": "12h",
        "jitter": "1h",
        "probation": "3s",
        **overrides,
    }


def check(core: CoreHarness) -> dict[str, Any]:
    import json

    result = nodekeeper("check", "--json", "--config", str(core.config_path))
    decision: dict[str, Any] = json.loads(result.stdout)
    return decision


def wait_version(core: CoreHarness, version: str, timeout: float = 60) -> dict[str, Any]:
    """Wait until the node runs ``version`` healthily with no switch pending."""

    def settled() -> dict[str, Any] | None:
        status = core.status()
        if not status:
            return None
        node, updates = status["node"], status["updates"]
        done = (
            node["version"] == version
            and node["state"] == "running"
            and node["healthy"]
            and updates["pending"] is None
            and updates["state"] in ("idle", "disabled")
        )
        return status if done else None

    result: dict[str, Any] = wait_until(settled, timeout, f"node on {version}", 0.1)
    return result
