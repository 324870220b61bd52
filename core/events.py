"""Events and the in-process event bus.

Parts of the core never call each other to report what happened: they
publish an :class:`Event` and whoever cares (socket subscribers, the
webhook notifier, the core's own log) subscribes. Event kinds are part of
the public contract (docs/contract.md, Control socket).
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

EVENT_KINDS = frozenset(
    {
        "node-started",
        "node-exited",
        "node-unhealthy",
        "crash-loop",
        "update-available",
        "update-started",
        "update-progress",
        "update-installed",
        "update-failed",
        "rolled-back",
        "updates-toggled",
        "disk-low",
        "logs-dropped",
        "core-updated",
        "core-rolled-back",
    }
)

_log = logging.getLogger(__name__)


def utc_now_iso() -> str:
    """The current UTC time as the contract prints it: 2026-11-27T05:00:00Z."""
    now = _dt.datetime.now(_dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S") + f".{now.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Event:
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)
    time: str = field(default_factory=utc_now_iso)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        return {"type": "event", "event": self.kind, "time": self.time, "data": dict(self.data)}


Subscriber = Callable[[Event], None]


class EventBus:
    """Fan-out of events to subscribers, safe to use from any thread.

    Subscribers are called in the publishing thread, in publish order, and
    must return quickly without blocking (hand work to a queue or an event
    loop with ``call_soon_threadsafe``). A failing subscriber is logged and
    never stops delivery to the others.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, kind: str, data: Mapping[str, Any] | None = None) -> Event:
        event = Event(kind, dict(data or {}))
        # The lock makes delivery order equal publish order across threads.
        with self._lock:
            for subscriber in list(self._subscribers):
                try:
                    subscriber(event)
                except Exception:
                    _log.exception("event subscriber failed on %s", kind)
        return event
