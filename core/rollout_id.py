"""Which node id the core uses for Storj's rollout, and where it came from.

In order: ``updates.node_id``; the identity the node is started with (its
``--identity-dir``, or ``identity.cert-path`` in the ``config.yaml`` of its
``--config-dir``); the places Storj's tools put an identity; the random id
kept in state.json; a new random id. A random id puts the node in a rollout
bucket of its own, not in its identity's, so the core says so in its log,
with the places it looked. Status shows the answer as
``updates.node_id_source``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nodekeeper.core.adopt.storjconfig import CONFIG_FILE, flag_value, parse_config_yaml
from nodekeeper.core.config import Config
from nodekeeper.core.state import StateStore
from nodekeeper.core.update.nodeid import (
    encode_node_id,
    find_storj_identity,
    identity_dirs,
    node_id_bytes,
    random_node_id,
)

_log = logging.getLogger(__name__)

SOURCES = ("config", "identity", "random")


@dataclass(frozen=True)
class RolloutId:
    node_id: bytes
    source: str  # one of SOURCES


def command_identity_dirs(command: Sequence[str]) -> list[Path]:
    """The identity folders the node's own command line points at."""
    dirs: list[Path] = []
    identity_dir = flag_value(command, "identity-dir")
    if identity_dir:
        dirs.append(Path(identity_dir))
    config_dir = flag_value(command, "config-dir")
    if config_dir:
        try:
            text = (Path(config_dir) / CONFIG_FILE).read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        cert = parse_config_yaml(text).get("identity.cert-path")
        if cert:
            dirs.append((Path(config_dir) / cert).parent)
    return dirs


def resolve_rollout_id(config: Config, states: StateStore) -> RolloutId:
    if config.updates.node_id:
        return RolloutId(node_id_bytes(config.updates.node_id), "config")
    looked = [*command_identity_dirs(config.node.command), *identity_dirs()]
    found = find_storj_identity(looked)
    if found is not None:
        _log.info("rollout node id %s, from the node's Storj identity", encode_node_id(found))
        return RolloutId(found, "identity")
    places = ", ".join(str(d) for d in looked)
    stored = states.load().node_id
    if stored:
        node_id, how = bytes.fromhex(stored), "kept in state.json"
    else:
        node_id, how = random_node_id(), "new, kept in state.json"
        states.update(node_id=node_id.hex())
    _log.warning(
        "rollout node id is random (%s): no Storj identity found in %s; "
        "set updates.node_id to the node's id to follow its rollout",
        how,
        places,
    )
    return RolloutId(node_id, "random")
