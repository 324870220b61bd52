"""A real core says where its rollout node id came from, in its log and in status."""

from __future__ import annotations

from pathlib import Path

from nodekeeper.core.update.nodeid import encode_node_id
from tests.fixtures.storj_identity import make_identity
from tests.helpers import CoreHarness, wait_until


def updates_status(core: CoreHarness) -> dict[str, object]:
    status = core.status()
    assert status is not None
    updates = status["updates"]
    assert isinstance(updates, dict)
    return updates


def test_without_identity_the_log_says_the_id_is_random_and_why(core: CoreHarness) -> None:
    core.start()
    assert updates_status(core)["node_id_source"] == "random"
    wait_until(
        lambda: "rollout node id is random" in core.stderr_text(), 10, "the random-id log line"
    )
    line = next(
        line for line in core.stderr_text().splitlines() if "rollout node id is random" in line
    )
    assert "no Storj identity found in" in line
    assert "updates.node_id" in line


def test_the_identity_named_in_the_nodes_config_dir_is_used(
    core: CoreHarness, tmp_path: Path
) -> None:
    node_id = make_identity(tmp_path / "identity")
    config_dir = tmp_path / "storagenode"
    config_dir.mkdir()
    cert = tmp_path / "identity" / "identity.cert"
    (config_dir / "config.yaml").write_text(f"identity.cert-path: {cert}\n")
    core.node["command"] = [*core.node["command"], "--config-dir", str(config_dir)]
    core.start()
    assert updates_status(core)["node_id_source"] == "identity"
    assert encode_node_id(node_id) in core.stderr_text()


def test_a_configured_id_is_reported_as_config(core: CoreHarness) -> None:
    core.extra["updates"] = {"node_id": "12vha9oTFnerxYRgeQ2BZqoFrLrnmmf5UWTCY2jA77dBZN6Lg2T"}
    core.start()
    assert updates_status(core)["node_id_source"] == "config"
