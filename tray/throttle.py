"""The tray's notification rules: the shared throttle, and suspend detection.

The throttle itself is the core's (:mod:`nodekeeper.core.throttle`), so the
desktop and the webhook notifier coalesce and rate-limit alike. This module
must never read a clock, sleep or touch Qt.
"""

from __future__ import annotations

from nodekeeper.core.throttle import UNREACHABLE, Notification, NotificationThrottle

__all__ = ["UNREACHABLE", "Notification", "NotificationThrottle", "slept"]


def slept(
    prev_wall: float, prev_mono: float, wall: float, mono: float, tolerance: float = 10.0
) -> bool:
    """True when the wall clock ran ahead of the monotonic clock: the machine was suspended.

    The monotonic clock stops during suspend and the wall clock does not;
    small differences (NTP slews, a late timer) stay under ``tolerance``.
    """
    return (wall - prev_wall) - (mono - prev_mono) > tolerance
