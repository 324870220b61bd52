"""The metrics read from a status object, and the ones recorded as events happen."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from nodekeeper.core.events import Event
from nodekeeper.core.metrics.collector import Readings, below_minimum, epoch, status_families
from nodekeeper.core.metrics.recorder import EventRecorder
from nodekeeper.core.supervise.health import ProbeResult


def status(**updates: Any) -> dict[str, Any]:
    return {
        "instance": "sn1",
        "node": {
            "state": "running",
            "version": "1.2.3",
            "healthy": True,
            "last_exit": {"code": 3, "signal": None, "reason": "crashed"},
        },
        "updates": {"state": "idle", "minimum": "1.3.0", "suggested": "1.4.0", **updates},
        "logs": {"bytes": 2048, "dropped_lines": 5},
    }


class Fixed(Collector):
    def __init__(self, data: Mapping[str, Any], readings: Readings | None = None) -> None:
        self.data, self.readings = data, readings or Readings()

    def collect(self) -> Iterator[Any]:
        return status_families(self.data, self.readings)


def exposition(*collectors: Collector) -> str:
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry).decode()


def samples(text: str) -> Iterable[str]:
    return (line for line in text.splitlines() if line and not line.startswith("#"))


def test_every_series_names_the_instance() -> None:
    text = exposition(
        Fixed(status(), Readings(free_bytes=10, rss_bytes=5, cpu_seconds=1.5, log_lines=7))
    )
    assert all('instance="sn1"' in line for line in samples(text))
    assert 'nodekeeper_node_up{instance="sn1"} 1.0' in text
    assert 'nodekeeper_node_last_exit_code{instance="sn1"} 3.0' in text
    assert 'nodekeeper_log_dropped_lines_total{instance="sn1"} 5.0' in text
    assert 'nodekeeper_core_cpu_seconds_total{instance="sn1"} 1.5' in text
    assert 'nodekeeper_log_lines_total{instance="sn1"} 7.0' in text


def test_a_node_below_the_minimum_version_is_flagged() -> None:
    text = exposition(Fixed(status()))
    assert 'nodekeeper_below_minimum_version{instance="sn1"} 1.0' in text
    assert below_minimum("1.3.0", "1.3.0") is False
    assert below_minimum(None, "1.3.0") is None
    assert below_minimum("garbage", "1.3.0") is None


def test_label_values_from_versions_are_escaped_by_the_library() -> None:
    hostile = status(suggested='1.0.0"} evil 1\n')
    text = exposition(Fixed(hostile))
    assert 'suggested="1.0.0\\"} evil 1\\n"' in text
    assert "\nevil" not in text


def test_contract_times_become_epoch_seconds() -> None:
    assert epoch("1970-01-01T00:01:00Z") == 60.0
    assert epoch("1970-01-01T00:01:00.500Z") == 60.5
    assert epoch(None) is None and epoch("yesterday") is None


def test_exits_count_restarts_by_reason_and_failed_probes_are_counted() -> None:
    registry = CollectorRegistry()
    recorder = EventRecorder("sn1", registry)
    recorder.on_event(Event("node-exited", {"reason": "crashed"}))
    recorder.on_event(Event("node-exited", {"reason": "crashed"}))
    recorder.on_event(Event("node-exited", {"reason": "unhealthy"}))
    probe = recorder.timed(lambda url, timeout: ProbeResult(False, "refused"))
    assert probe("http://127.0.0.1:1/", 1.0).ok is False
    text = generate_latest(registry).decode()
    assert 'nodekeeper_node_restarts_total{instance="sn1",reason="crashed"} 2.0' in text
    assert 'nodekeeper_node_restarts_total{instance="sn1",reason="unhealthy"} 1.0' in text
    assert 'nodekeeper_health_check_failures_total{instance="sn1"} 1.0' in text
    assert 'nodekeeper_health_check_seconds_count{instance="sn1"} 1.0' in text


def test_update_failures_count_in_a_row_until_one_goes_through() -> None:
    recorder = EventRecorder("sn1", CollectorRegistry())
    for _ in range(3):
        recorder.on_event(Event("update-failed", {"step": "check", "reason": "x"}))
    assert recorder.consecutive_update_failures == 3
    recorder.update_succeeded()
    assert recorder.consecutive_update_failures == 0
