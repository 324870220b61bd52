"""The ``updates`` part of the status JSON (docs/contract.md, Status object), built from what the updater knows.

Pure: it takes the updater's state and the saved state and returns the
dict the contract describes; it never reads files or the clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from nodekeeper.core.state import State
from nodekeeper.core.update.channel import Channel
from nodekeeper.core.update.progress import DownloadProgress


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def update_status(
    saved: State,
    *,
    enabled: bool,
    source: str,
    state: str,
    last_check: float | None,
    last_error: str | None,
    last_failure: dict[str, str] | None,
    next_check: float | None,
    channel: Channel | None,
    candidate: bool,
    progress: DownloadProgress,
) -> dict[str, Any]:
    # An idle updater that will not install anything says so.
    shown = "disabled" if state == "idle" and not enabled else state
    result: dict[str, Any] = {
        "enabled": enabled,
        "source": source,
        "state": shown,
        "last_check": iso(last_check),
        "last_error": last_error,
        "last_failure": last_failure,
        "next_check": iso(next_check),
        "minimum": channel.minimum.version if channel and channel.minimum else None,
        "suggested": channel.suggested.version if channel and channel.suggested else None,
        "candidate": candidate,
        "pending": saved.pending,
        "previous": saved.previous,
        "quarantined": list(saved.quarantined),
    }
    if state == "downloading":
        result["progress"] = {
            "bytes": progress.done,
            "total": progress.total,
            "version": progress.version,
            "percent": progress.done * 100 // progress.total if progress.total else None,
        }
    return result
