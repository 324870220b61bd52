"""The pure rules of a download: time limits, the slowest acceptable rate, space needed.

No I/O here: time and byte counts are arguments, so the rules are tested
without a server or a clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DownloadLimits:
    connect_timeout: float = 15.0
    read_timeout: float = 30.0  # longest silence tolerated mid-transfer
    min_rate: int = 4096  # bytes/s, averaged over rate_window …
    rate_window: float = 60.0  # … below it the transfer is abandoned (and resumed later)


DEFAULT_LIMITS = DownloadLimits()


class RateGuard:
    """Decides when a transfer is too slow to keep going. Pure: time is an argument."""

    def __init__(self, min_rate: int, window: float, start: float) -> None:
        self.min_rate = min_rate
        self.window = window
        self._window_start = start
        self._window_bytes = 0

    def too_slow(self, now: float, received: int) -> bool:
        """Account ``received`` new bytes at ``now``; True once a whole window fell short."""
        self._window_bytes += received
        if now - self._window_start < self.window:
            return False
        if self._window_bytes < self.min_rate * (now - self._window_start):
            return True
        self._window_start, self._window_bytes = now, 0
        return False


def required_space(length: int, min_free_space: int, already_have: int = 0) -> int:
    """Free bytes needed before downloading an artifact of ``length`` bytes."""
    return max(0, length * 3 + min_free_space - already_have)
