"""When to check for updates next: spread the fleet, back off politely.

Pure: every method takes ``now`` and returns the absolute time of the next
check; nothing here sleeps, reads a clock or touches the network. Times
are wall-clock epoch seconds so that a schedule survives a restart (the
updater persists ``last_check`` in state.json and hands it back to
:meth:`CheckScheduler.first_check`).

Why each rule exists (a release server sees the sum of every node's
schedule, so one synchronised fleet is a self-inflicted DDoS):

* Regular checks land uniformly in ``interval +- jitter``, so phases drift
  apart instead of lining up.
* After a restart, a node that checked recently keeps its phase: a saved
  ``next_check`` still ahead is kept, and one missed while the machine was
  down moves on by whole intervals (plus fresh jitter) to its next slot. A mass reboot (power
  cut, OS update wave) then adds no load at all, however many nodes come
  back at once. Only a node that has not checked for ``2 * interval``
  (fresh install, long downtime) checks soon: ``uniform(0,
  startup_delay)`` after start; the check after that one lands uniformly
  in ``[interval/10, interval + jitter]``, so a fleet installed together
  does not stay in step.
* Failures back off exponentially with full jitter, from ``interval/10``
  up to ``interval``, never below ``interval/10``: a broken server or
  firewall never causes a tight loop, and a recovering server is not met
  by the whole fleet at once.
* A server's ``Retry-After`` is honoured (capped at 24 h, so a bad header
  cannot switch updates off for good).
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import random
from typing import Protocol

RETRY_AFTER_CAP = 24 * 3600.0


class UniformSource(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


class CheckScheduler:
    def __init__(
        self,
        interval: float,
        jitter: float,
        startup_delay: float,
        rng: UniformSource | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"update interval must be positive, got {interval}")
        if not jitter >= 0 or not startup_delay >= 0:
            raise ValueError("update jitter and startup_delay must not be negative")
        self.interval = float(interval)
        self.min_gap = self.interval / 10
        # Jitter larger than the interval would allow back-to-back checks.
        self.jitter = min(float(jitter), self.interval - self.min_gap)
        self.startup_delay = float(startup_delay)
        self._rng: UniformSource = rng if rng is not None else random.Random()
        self.failures = 0
        self.not_before = float("-inf")
        self.next_check: float | None = None
        self._spread_next = False

    def _regular_gap(self) -> float:
        return self.interval + self._rng.uniform(-self.jitter, self.jitter)

    def _set(self, when: float) -> float:
        self.next_check = when
        return when

    def first_check(
        self, now: float, last_check: float | None = None, next_check: float | None = None
    ) -> float:
        """The first check after the core starts.

        ``last_check``: when this node last checked successfully;
        ``next_check``: the check the previous run had scheduled (both from
        state.json, None if unknown).
        """
        recent = last_check is not None and now - 2 * self.interval < last_check <= now
        if not recent:
            self._spread_next = True
            return self._set(now + self._rng.uniform(0, self.startup_delay))
        assert last_check is not None
        slot = next_check
        if slot is None or not last_check < slot <= last_check + self.interval + self.jitter:
            slot = last_check + self._regular_gap()
        if slot <= now:
            # Whole intervals keep the phase; fresh jitter keeps the nodes
            # that all missed a slot during the same outage from moving
            # together into one later minute.
            missed = (now - slot) // self.interval + 1
            slot += missed * self.interval + self._rng.uniform(-self.jitter, self.jitter)
            while slot <= now:
                slot += self.interval
        return self._set(slot)

    def after_success(self, now: float) -> float:
        self.failures = 0
        if self._spread_next:
            # After a startup check, pick a random phase: nodes installed or
            # restarted together stop checking together after one round.
            self._spread_next = False
            gap = self._rng.uniform(self.min_gap, self.interval + self.jitter)
        else:
            gap = self._regular_gap()
        return self._set(max(now + gap, self.not_before))

    def after_failure(self, now: float, retry_after: float | None = None) -> float:
        """Next try after a failed check; ``retry_after``: seconds the server asked for."""
        self.failures += 1
        ceiling = min(self.interval, self.min_gap * 2.0 ** min(self.failures, 64))
        delay = self._rng.uniform(self.min_gap, ceiling)
        if retry_after is not None and retry_after > 0:
            wait = min(retry_after, RETRY_AFTER_CAP)
            self.not_before = now + wait
            delay = max(delay, wait)
        return self._set(now + delay)

    def check_now(self, now: float) -> float:
        """An operator asked for a check: now, unless the server asked us to wait."""
        return self._set(max(now, self.not_before))


def parse_retry_after(header: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date).

    ``now`` is wall-clock epoch seconds. Returns None for a missing or
    unreadable header, 0 for a date in the past, at most 24 h.
    """
    if header is None:
        return None
    text = header.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return min(float(text), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return min(max(when.timestamp() - now, 0.0), RETRY_AFTER_CAP)
