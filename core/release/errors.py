"""Errors a publisher can meet while running ``nodekeeper release ...``.

Each is one line that names the problem and what to do about it. A command
that raises one of these has left the repository exactly as it found it.
"""

from __future__ import annotations

from nodekeeper.core.errors import OperationFailed, UsageError


class ReleaseError(OperationFailed):
    """A release command could not be carried out (exit code 1)."""


class ReleaseUsageError(UsageError):
    """A release command was given an argument it cannot use (exit code 2)."""
