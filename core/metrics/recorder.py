"""What must be counted when it happens: restarts by reason, health checks.

The recorder subscribes to the event bus and wraps the supervisor's
health probe; both only increment prometheus-client objects (thread-safe,
never blocking), so a slow scrape can never delay the node's supervision.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

from nodekeeper.core.events import Event, EventBus
from nodekeeper.core.supervise.health import ProbeResult

Probe = Callable[[str, float], ProbeResult]

# Health URLs answer in milliseconds when fine and time out when not.
HEALTH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class EventRecorder:
    def __init__(self, instance: str, registry: CollectorRegistry) -> None:
        self.instance = instance
        self.registry = registry
        self._restarts = Counter(
            "nodekeeper_node_restarts",
            "Node exits followed by a restart, by the exit's reason.",
            ["instance", "reason"],
            registry=registry,
        )
        self._health = Histogram(
            "nodekeeper_health_check_seconds",
            "Latency of the node's health checks (health_url).",
            ["instance"],
            buckets=HEALTH_BUCKETS,
            registry=registry,
        ).labels(instance)
        self._health_failures = Counter(
            "nodekeeper_health_check_failures",
            "Health checks that failed (no 2xx answer in time).",
            ["instance"],
            registry=registry,
        ).labels(instance)
        self._update_failures = 0
        self._failed = Counter(
            "nodekeeper_update_failures",
            "Update checks or installs that failed.",
            ["instance"],
            registry=registry,
        ).labels(instance)

    @property
    def consecutive_update_failures(self) -> int:
        return self._update_failures

    def update_succeeded(self) -> None:
        """A check or install went through: the failure streak is over."""
        self._update_failures = 0

    def subscribe(self, bus: EventBus) -> Callable[[], None]:
        return bus.subscribe(self.on_event)

    def on_event(self, event: Event) -> None:
        if event.kind == "node-exited" and event.data.get("reason") != "shutdown":
            # The core stopping is no restart; every other exit is followed by a start.
            reason = str(event.data.get("reason") or "unknown")
            self._restarts.labels(self.instance, reason).inc()
        elif event.kind == "update-failed":
            self._update_failures += 1
            self._failed.inc()
        elif event.kind == "update-installed":
            self._update_failures = 0

    def timed(self, probe: Probe) -> Probe:
        """``probe`` with its latency and failures recorded."""

        def timed_probe(url: str, timeout: float) -> ProbeResult:
            started = time.perf_counter()
            result = probe(url, timeout)
            self._health.observe(time.perf_counter() - started)
            if not result.ok:
                self._health_failures.inc()
            return result

        return timed_probe
