"""Notification throttling and coalescing (pure, no Qt, no clock, no I/O).

Shared by the tray (desktop notifications) and the core's webhook notifier
(chat messages): operators dislike tools that flood them. The rules kept here:

* at most ``limit`` notifications of one kind are shown per ``window_s``;
  further ones of that kind are held and, as soon as the window has room
  again, shown as ONE notification: the latest message "… and N more";
* some kinds (the tray's "core unreachable") are never shown during a grace
  period after the tray starts or the machine resumes: the core is often still
  starting then. Such a notification is held until the grace period ends and
  dropped if :meth:`NotificationThrottle.withdraw` is called before (the core
  came back).

Time is always an argument (seconds on any monotonic scale); this module
must never read a clock, sleep, touch Qt or the network.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Notification:
    kind: str
    title: str
    message: str
    instance: str = ""
    # What clicking the notification opens: "logs", "dashboard" or "" (nothing).
    opens: str = ""
    # How many further notifications this one stands for ("… and N more").
    more: int = 0

    @property
    def text(self) -> str:
        if self.more == 0:
            return self.message
        return f"{self.message} … and {self.more} more"


@dataclass
class _KindState:
    shown: deque[float] = field(default_factory=deque)
    held: Notification | None = None
    held_count: int = 0


class NotificationThrottle:
    def __init__(
        self,
        limit: int = 3,
        window_s: float = 600.0,
        grace_s: float = 15.0,
        grace_kinds: frozenset[str] = frozenset({UNREACHABLE}),
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window_s <= 0 or grace_s < 0:
            raise ValueError("window_s must be positive and grace_s not negative")
        self.limit = limit
        self.window_s = window_s
        self.grace_s = grace_s
        self.grace_kinds = grace_kinds
        self._kinds: dict[str, _KindState] = {}
        self._grace_until = float("-inf")
        # Grace-kind notifications waiting for the grace period to end,
        # keyed by (kind, instance) so that withdraw() can drop them.
        self._deferred: dict[tuple[str, str], Notification] = {}

    def started(self, now: float) -> None:
        """The tray started (or the machine resumed) at ``now``: begin a grace period."""
        self._grace_until = now + self.grace_s

    resumed = started

    def in_grace(self, now: float) -> bool:
        return now < self._grace_until

    def offer(self, note: Notification, now: float) -> Notification | None:
        """Return the notification to show now, or None when it is held or deferred."""
        if note.kind in self.grace_kinds and self.in_grace(now):
            self._deferred[(note.kind, note.instance)] = note
            return None
        return self._admit(note, now)

    def withdraw(self, kind: str, instance: str) -> None:
        """The condition behind a deferred notification is over: never show it."""
        self._deferred.pop((kind, instance), None)

    def due(self, now: float) -> list[Notification]:
        """Notifications that became showable by ``now`` (deferred ones, summaries)."""
        out: list[Notification] = []
        if not self.in_grace(now):
            deferred, self._deferred = list(self._deferred.values()), {}
            for note in deferred:
                shown = self._admit(note, now)
                if shown is not None:
                    out.append(shown)
        for state in self._kinds.values():
            self._expire(state, now)
            if state.held is not None and len(state.shown) < self.limit:
                summary = replace(state.held, more=state.held_count - 1)
                state.held, state.held_count = None, 0
                state.shown.append(now)
                out.append(summary)
        return out

    def next_due(self) -> float | None:
        """The earliest time at which :meth:`due` may return something, if any."""
        times: list[float] = []
        if self._deferred:
            times.append(self._grace_until)
        for state in self._kinds.values():
            if state.held is not None and state.shown:
                times.append(state.shown[0] + self.window_s)
        return min(times) if times else None

    def _admit(self, note: Notification, now: float) -> Notification | None:
        state = self._kinds.setdefault(note.kind, _KindState())
        self._expire(state, now)
        if len(state.shown) < self.limit:
            # Room again: whatever was held is folded into this one.
            state.shown.append(now)
            more = state.held_count + note.more
            state.held, state.held_count = None, 0
            return replace(note, more=more)
        state.held = note
        state.held_count += 1 + note.more
        return None

    def _expire(self, state: _KindState, now: float) -> None:
        while state.shown and state.shown[0] + self.window_s <= now:
            state.shown.popleft()
