"""Health verdicts and the HTTP probe.

:class:`HealthTracker` is pure: it turns a sequence of probe results into a
verdict (healthy, failing, restart). :func:`probe` is the thin I/O part: one
GET of ``health_url`` with a hard deadline.
"""

from __future__ import annotations

import http.client
import urllib.parse
from dataclasses import dataclass
from typing import Literal

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


def probe(url: str, timeout: float) -> ProbeResult:
    """GET ``url``; healthy when it answers 2xx within ``timeout`` seconds.

    Blocking: run it in a worker thread. The socket timeout bounds every
    read, and the caller bounds the whole probe with the same timeout.
    """
    parts = urllib.parse.urlsplit(url)
    conn_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    host = parts.hostname or "127.0.0.1"
    conn = conn_type(host, parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request("GET", path, headers={"User-Agent": "nodekeeper-health"})
        response = conn.getresponse()
        response.read(65536)
        if 200 <= response.status < 300:
            return ProbeResult(True)
        return ProbeResult(False, f"HTTP {response.status}")
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        return ProbeResult(
            False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )
    finally:
        conn.close()
