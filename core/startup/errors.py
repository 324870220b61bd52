"""Errors an operator can meet while running ``nodekeeper service ...``."""

from __future__ import annotations

from nodekeeper.core.errors import OperationFailed, UsageError


class ServiceError(OperationFailed):
    """Registering with the OS failed part-way or could not start (exit code 1)."""


class ServiceUsageError(UsageError):
    """Something given to ``nodekeeper service`` cannot go into a service definition (exit 2)."""
