"""Errors an operator can meet.

Each carries a one-line message that says what is wrong and what to do,
and the exit code the CLI returns for it (docs/contract.md, Command line: 1 operation failed,
2 usage/config error, 3 core not reachable). Tracebacks are for bugs only.
"""

from __future__ import annotations


class NodekeeperError(Exception):
    """Base class: a problem with a one-line explanation for the operator."""

    exit_code = 1


class UsageError(NodekeeperError):
    exit_code = 2


class ConfigError(UsageError):
    """The configuration file cannot be used; nothing has been started."""


class StateError(UsageError):
    """state.json cannot be read or written."""


class AlreadyRunning(NodekeeperError):
    """Another core holds the lock on this data dir."""

    exit_code = 2


class CoreUnreachable(NodekeeperError):
    exit_code = 3


class OperationFailed(NodekeeperError):
    exit_code = 1
