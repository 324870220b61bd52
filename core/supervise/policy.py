"""Restart policy: how long to wait before starting a node that exited.

Pure: no clocks, no sleeping. Callers pass ``now`` (monotonic seconds) and
a random source, so every path is tested without processes.

Rules (docs/contract.md, Configuration, node.*):
* the n-th consecutive unrequested exit waits ``restart_delay * 2**(n-1)``,
  capped at ``restart_delay_max``, shortened by up to 20 % of jitter so a
  fleet of nodes that crashed together does not restart in lockstep (the
  delay never exceeds the nominal value: the first restart always comes
  within ``restart_delay``);
* a run that lasted ``stable_after`` or longer resets the sequence;
* ``crash_loop_restarts`` exits within ``crash_loop_window`` mark the node
  crash-looping: it is still restarted, at the maximum delay, until it runs
  stable again.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from nodekeeper.core.config import NodeConfig

JITTER_FRACTION = 0.2


@dataclass(frozen=True)
class RestartDecision:
    delay: float
    attempt: int  # 1 for the first restart after a stable run
    crash_looping: bool
    entered_crash_loop: bool  # True only on the exit that started the crash loop


class RestartPolicy:
    def __init__(self, settings: NodeConfig, rng: random.Random | None = None) -> None:
        self._settings = settings
        self._rng = rng or random.Random()
        self._attempt = 0
        self._exits: deque[float] = deque()
        self._crash_looping = False

    def reconfigure(self, settings: NodeConfig) -> None:
        """New delays and crash-loop bounds from the next exit on; past exits still count."""
        self._settings = settings

    @property
    def crash_looping(self) -> bool:
        return self._crash_looping

    def nominal_delay(self, attempt: int) -> float:
        s = self._settings
        # The exponent is bounded so a node that crashed for years cannot overflow it.
        return min(s.restart_delay_max, s.restart_delay * 2.0 ** min(attempt - 1, 256))

    def on_stable(self, now: float) -> None:
        """The node has run ``stable_after``: forget past crashes."""
        self._attempt = 0
        self._exits.clear()
        self._crash_looping = False

    def on_exit(self, now: float, started_at: float) -> RestartDecision:
        s = self._settings
        if now - started_at >= s.stable_after:
            self.on_stable(now)
        self._attempt += 1
        self._exits.append(now)
        while self._exits and now - self._exits[0] > s.crash_loop_window:
            self._exits.popleft()
        entered = False
        if len(self._exits) >= s.crash_loop_restarts and not self._crash_looping:
            self._crash_looping = entered = True
        nominal = s.restart_delay_max if self._crash_looping else self.nominal_delay(self._attempt)
        delay = nominal * (1.0 - JITTER_FRACTION * self._rng.random())
        return RestartDecision(delay, self._attempt, self._crash_looping, entered)
