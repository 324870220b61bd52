"""End to end: a node following the mirror updates through it, and decides as Storj's would.

Two real cores with the same node id: one on the ``tuf`` source pointed at
the mirror (served by nginx), one on the ``storj`` source pointed at the
stand-in version server the mirror copies. ``nodekeeper check --json``
must print the same decision on both, and the first one installs the
release from the mirror.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.demo.package import build_release_binary
from nodekeeper.core.platform.ids import platform_id
from nodekeeper.core.update.rollout import is_candidate, percent_to_cursor
from tests.fixtures.nginx import NginxServer
from tests.fixtures.storj_upstream import StorjUpstream, storj_upstream
from tests.helpers import CoreHarness
from tests.integration.release.test_mirror import nk
from tests.integration.update.release_repo import nodekeeper, wait_version

PERCENT = 50.0


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[StorjUpstream]:
    with storj_upstream(tmp_path / "upstream") as server:
        server.minimum, server.suggested, server.rollout_percent = "1.1.0", "1.2.0", PERCENT
        yield server


@pytest.fixture
def storj_core(tmp_path: Path) -> Iterator[CoreHarness]:
    harness = CoreHarness(tmp_path / "storj-core", instance="storjnode")
    try:
        yield harness
    finally:
        harness.cleanup()


def candidate_node_id(seed_hex: str) -> str:
    """A node id inside the 50 % rollout: it goes straight to suggested."""
    rng = random.Random(17)
    while True:
        node_id = rng.randbytes(32)
        if is_candidate(node_id, bytes.fromhex(seed_hex), percent_to_cursor(PERCENT)):
            return node_id.hex()


def configure(core: CoreHarness, node_id: str, **updates: Any) -> None:
    binary = build_release_binary("1.0.0", core.root / "initial" / "storagenode")
    core.node["command"] = ["{binary}", "run", "--port", str(core.port), "--pid-file", core.marker]
    core.node["initial_binary"] = str(binary)
    core.extra["updates"] = {
        "enabled": True,
        "allow_http": True,
        "node_id": node_id,
        "startup_delay": "1h",
        "interval": "12h",
        "jitter": "1h",
        "probation": "2s",
        **updates,
    }


def check(core: CoreHarness) -> dict[str, Any]:
    result = nodekeeper("check", "--json", "--config", str(core.config_path))
    decision: dict[str, Any] = json.loads(result.stdout)
    return decision


def test_node_on_the_mirror_updates_and_decides_as_a_node_on_storj(
    tmp_path: Path,
    upstream: StorjUpstream,
    core: CoreHarness,
    storj_core: CoreHarness,
    nginx: Callable[[Path], NginxServer],
) -> None:
    repo, keys = tmp_path / "mirror", tmp_path / "keys.json"
    nk("init", repo, "--key-file", keys)
    mirror_args = ["mirror", "storj", repo, "--from", upstream.url, "--allow-http"]
    nk(*mirror_args, "--platforms", f"{platform_id()},windows-amd64", "--key-file", keys)
    server = nginx(repo)

    node_id = candidate_node_id(upstream.seed)
    configure(
        core,
        node_id,
        source="tuf",
        url=server.url,
        trusted_root=str(repo / "metadata" / "1.root.json"),
    )
    configure(storj_core, node_id, source="storj", url=upstream.url)
    core.start()
    storj_core.start()
    wait_version(core, "1.0.0")
    wait_version(storj_core, "1.0.0")

    on_mirror, on_storj = check(core), check(storj_core)
    assert on_mirror == on_storj
    # Below minimum but inside the rollout: one jump to suggested.
    assert on_mirror["action"] == "update" and on_mirror["target"] == "1.2.0"

    status = wait_version(core, "1.2.0")
    assert status["updates"]["source"] == "tuf"
    assert status["updates"]["minimum"] == "1.1.0" and status["updates"]["suggested"] == "1.2.0"
    assert status["updates"]["candidate"] is True
    wait_version(storj_core, "1.2.0")
    # The mirror served the node: the artifact came from nginx, not from upstream.
    artifact_requests = [
        e for e in server.access_log() if e.path.startswith("/targets/storagenode/")
    ]
    assert artifact_requests and all(e.status in (200, 206) for e in artifact_requests)
    # And both agree there is nothing left to do.
    assert (
        check(core)
        == check(storj_core)
        == {
            "action": "none",
            "target": None,
            "reason": check(core)["reason"],
        }
    )
