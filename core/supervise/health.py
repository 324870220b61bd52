"""Health verdicts and the HTTP probe.

:class:`HealthTracker` is pure: it turns a sequence of probe results into a
verdict (healthy, failing, restart). :func:`probe` is the thin I/O part: one
GET of ``health_url`` with a hard deadline, through the light
:class:`StdlibTransport` (never requests: the probe runs all the time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nodekeeper.core.transport.base import BaseTransport, Request, Timeout, TransportError
from nodekeeper.core.transport.stdlib import StdlibTransport

Verdict = Literal["healthy", "failing", "restart"]


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str = ""


class HealthTracker:
    """Counts consecutive failed probes; ``failures`` in a row ask for a restart."""

    def __init__(self, failures: int) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        self._limit = failures
        self.consecutive_failures = 0
        self.ever_healthy = False

    def record(self, result: ProbeResult) -> Verdict:
        if result.ok:
            self.consecutive_failures = 0
            self.ever_healthy = True
            return "healthy"
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
        return ProbeResult(False, str(exc))
