"""Health verdicts and the HTTP probe.

:class:`HealthTracker` is pure: it turns a sequence of probe results into a
verdict (healthy, failing, restart). :func:`probe` is the thin I/O part: one
GET of ``health_url`` with a hard deadline, through the light
:class:`StdlibTransport` (never requests: the probe runs all the time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nodekeeper.core.transport.base import (
    BaseTransport,
    ReadTimeout,
    Request,
    Timeout,
    TransportError,
)
from nodekeeper.core.transport.stdlib import StdlibTransport

Verdict = Literal["healthy", "failing", "restart", "waiting", "unknown"]


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str = ""
    # The process itself is stopped or a zombie: never excused by the start-up grace.
    process_fault: bool = False


class HealthTracker:
    """Counts consecutive failed probes; ``failures`` in a row ask for a restart.

    With a ``grace`` (seconds since ``started_at``), a health URL that has
    never answered since the node started restarts nothing: its failures
    are "waiting" during the grace and "unknown" after it (a wrong URL must
    not restart a working node forever). Once it has answered, failures
    count as always.
    """

    def __init__(self, failures: int, grace: float | None = None, started_at: float = 0.0) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        self._limit = failures
        self._grace = grace
        self._started_at = started_at
        self.consecutive_failures = 0
        self.ever_healthy = False

    def record(self, result: ProbeResult, now: float = 0.0) -> Verdict:
        if result.ok:
            self.consecutive_failures = 0
            self.ever_healthy = True
            return "healthy"
        if self._grace is not None and not self.ever_healthy and not result.process_fault:
            return "waiting" if now - self._started_at < self._grace else "unknown"
        self.consecutive_failures += 1
        if self.consecutive_failures >= self._limit:
            return "restart"
        return "failing"


def probe(url: str, timeout: float, transport: BaseTransport | None = None) -> ProbeResult:
    """GET ``url``; healthy when it answers 2xx within ``timeout`` seconds.

    Blocking: run it in a worker thread. The socket timeout bounds every
    read, and the caller bounds the whole probe with the same timeout.
    """
    request = Request(
        "GET", url, Timeout(timeout, timeout), headers={"User-Agent": "nodekeeper-health"}
    )
    try:
        with (transport or StdlibTransport()).handle_request(request) as response:
            response.read(65536)
            if 200 <= response.status_code < 300:
                return ProbeResult(True)
            return ProbeResult(False, f"HTTP {response.status_code}")
    except TransportError as exc:
        return ProbeResult(False, in_words(exc, timeout))


def in_words(exc: TransportError, timeout: float) -> str:
    """What went wrong, as an operator reads it: "Connection refused", "timed out after 10s"."""
    cause = exc.__cause__
    if isinstance(exc, ReadTimeout) or isinstance(cause, TimeoutError):
        return f"timed out after {timeout:g}s"
    if isinstance(cause, OSError) and cause.strerror:
        return str(cause.strerror)
    return str(exc)
