"""Probation verdicts (docs/updates.md): does a freshly switched version stay?

Pure: the updater feeds it the events it saw during probation and the
node's status at the end; no waiting or I/O happens here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def failure_of(kind: str, data: Mapping[str, Any]) -> str | None:
    """Why an event seen during probation fails the new version, None if it does not.

    An exit the core asked for (a hold, a restart command) is not the new
    version's fault; a crash or a failed health check is.
    """
    failing = kind == "node-unhealthy" or (kind == "node-exited" and not data.get("requested"))
    if not failing:
        return None
    detail = data.get("detail") or data.get("reason") or kind
    return f"{kind}: {detail}"


def verdict(failure: str | None, node: Mapping[str, Any], probation: float) -> str | None:
    """Why the new version failed probation, None when it passed.

    ``failure`` is the first failing event seen (see :func:`failure_of`),
    ``node`` the node status when probation ended.
    """
    if failure is not None:
        return failure
    if node.get("state") == "running" and node.get("healthy"):
        return None
    return f"not running and healthy after {probation:g}s of probation ({node.get('state')})"
