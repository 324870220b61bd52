"""The node's command line: ``{binary}`` expanded, the first version adopted, the command checked.

Used at start-up (before any part runs) and on every node start. It never
starts the node itself: the supervisor does, with the plan made here.
"""

from __future__ import annotations

import logging

from nodekeeper.core.config import Config
from nodekeeper.core.config.program import check_node_program
from nodekeeper.core.errors import ConfigError, NodekeeperError, OperationFailed
from nodekeeper.core.state import State, StateStore
from nodekeeper.core.supervise.spawn import LaunchPlan
from nodekeeper.core.update.smoke import read_version
from nodekeeper.core.update.store import VersionStore

# The core's log lines keep the source name they have always carried.
_log = logging.getLogger("nodekeeper.core.service")

BINARY_PLACEHOLDER = "{binary}"


def launch_plan(config: Config, states: StateStore, store: VersionStore) -> LaunchPlan:
    """The node's argv, with ``{binary}`` expanded to the current installed version."""
    command = config.node.command
    if not any(BINARY_PLACEHOLDER in part for part in command):
        return LaunchPlan(tuple(command), config.node.initial_version)
    current = states.load().current
    if current is None or not store.has(current):
        raise OperationFailed("no installed version to run for {binary}")
    binary = str(store.binary_path(current))
    return LaunchPlan(tuple(part.replace(BINARY_PLACEHOLDER, binary) for part in command), current)


def adopt_initial_binary(config: Config, store: VersionStore, states: StateStore) -> State:
    """Make ``node.initial_binary`` the first installed version if nothing is installed yet."""
    state = states.load()
    if state.current and store.has(state.current):
        return state
    binary = config.node.initial_binary
    if binary is None:
        return state
    key = "node.initial_binary"
    if not binary.is_file():
        raise ConfigError(f"{config.source}: {key}: {binary} does not exist")
    try:
        version = config.node.initial_version or read_version(binary)
    except NodekeeperError as exc:
        raise ConfigError(f"{config.source}: node.initial_version: not set, and {exc}") from None
    store.install_file(version, binary)
    _log.info("adopted %s as version %s", binary, version)
    installed = tuple(sorted(set(state.installed) | {version}))
    return states.update(current=version, installed=installed)


def check_command_runnable(config: Config, states: StateStore, store: VersionStore) -> None:
    check_node_program(config)
    try:
        launch_plan(config, states, store)
    except OperationFailed:
        raise ConfigError(
            f"{config.source}: node.command: uses {BINARY_PLACEHOLDER} but no version is installed "
            "and node.initial_binary is not set"
        ) from None
