"""Errors an operator can meet while running ``nodekeeper init``."""

from __future__ import annotations

from nodekeeper.core.errors import OperationFailed, UsageError


class AdoptUsageError(UsageError):
    """Nothing to adopt, or more than one thing: the operator has to say which (exit 2)."""


class AdoptFailed(OperationFailed):
    """A hand-over step failed; the journal says what was done so far (exit 1)."""
