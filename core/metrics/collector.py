"""Series read from the core's status object when Prometheus scrapes.

:func:`status_families` is pure: a status dict (docs/contract.md, Status object) plus a few
readings in, metric families out. :class:`StatusCollector` gathers the
readings (status, disk, the core's own process) once per scrape. Label
values (versions, states, the instance) go through prometheus-client,
which escapes them; nothing here writes exposition text by hand.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.registry import Collector

from nodekeeper.core.metrics.recorder import EventRecorder
from nodekeeper.core.supervise.lifecycle import NodeState
from nodekeeper.core.update.version import Version


@dataclass(frozen=True)
class Readings:
    """What a scrape reads besides the status object."""

    free_bytes: int | None = None
    size_bytes: int | None = None
    rss_bytes: int | None = None
    cpu_seconds: float | None = None
    consecutive_update_failures: int = 0
    last_update_success: float | None = None
    log_lines: int | None = None


def epoch(iso: str | None) -> float | None:
    """Seconds since the epoch of a contract time ("2026-11-27T05:00:00Z"), None if unset."""
    if not iso:
        return None
    try:
        return _dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def below_minimum(running: str | None, minimum: str | None) -> bool | None:
    if not running or not minimum:
        return None
    try:
        return Version.parse(running) < Version.parse(minimum)
    except ValueError:
        return None


def _gauge(name: str, doc: str, instance: str, value: float | None) -> Iterator[Metric]:
    if value is not None:
        family = GaugeMetricFamily(name, doc, labels=["instance"])
        family.add_metric([instance], float(value))
        yield family


def status_families(status: Mapping[str, Any], readings: Readings) -> Iterator[Metric]:
    instance = str(status.get("instance", ""))
    node = status.get("node") or {}
    updates = status.get("updates") or {}
    logs = status.get("logs") or {}
    state = str(node.get("state", "stopped"))

    yield from _gauge("nodekeeper_node_up", "1 when the node runs.", instance, state == "running")
    states = StateSetMetricFamily(
        "nodekeeper_node_state", "The node's supervision state.", labels=["instance"]
    )
    states.add_metric([instance], {s.value: s.value == state for s in NodeState})
    yield states
    yield from _gauge(
        "nodekeeper_node_healthy", "1 when the health check passes.", instance, node.get("healthy")
    )
    last_exit = node.get("last_exit") or {}
    yield from _gauge(
        "nodekeeper_node_last_exit_code",
        "Exit code of the node's last exit (absent after a signal).",
        instance,
        last_exit.get("code"),
    )
    running = node.get("version")
    info = InfoMetricFamily("nodekeeper_version", "Node versions.", labels=["instance"])
    info.add_metric(
        [instance],
        {
            "running": running or "",
            "suggested": updates.get("suggested") or "",
            "minimum": updates.get("minimum") or "",
        },
    )
    yield info
    below = below_minimum(running, updates.get("minimum"))
    yield from _gauge(
        "nodekeeper_below_minimum_version",
        "1 when the running version is below the minimum the release channel allows.",
        instance,
        below,
    )
    update_state = GaugeMetricFamily(
        "nodekeeper_update_state",
        "The updater's state (1 for the current one).",
        labels=["instance", "state"],
    )
    update_state.add_metric([instance, str(updates.get("state", "idle"))], 1.0)
    yield update_state
    yield from _gauge(
        "nodekeeper_update_last_check_timestamp_seconds",
        "When the release channel was last checked.",
        instance,
        epoch(updates.get("last_check")),
    )
    yield from _gauge(
        "nodekeeper_update_last_success_timestamp_seconds",
        "When an update check last went through.",
        instance,
        readings.last_update_success,
    )
    yield from _gauge(
        "nodekeeper_update_consecutive_failures",
        "Update checks or installs that failed in a row.",
        instance,
        readings.consecutive_update_failures,
    )
    yield from _gauge(
        "nodekeeper_update_quarantined",
        "Versions quarantined after a failed update.",
        instance,
        len(updates.get("quarantined") or ()),
    )
    yield from _gauge(
        "nodekeeper_update_rollout_candidate",
        "1 when this node is in the current rollout.",
        instance,
        bool(updates.get("candidate")),
    )
    progress = updates.get("progress") or {}
    if progress.get("total"):
        yield from _gauge(
            "nodekeeper_update_download_ratio",
            "Part of the update download done.",
            instance,
            progress.get("bytes", 0) / progress["total"],
        )
    yield from _gauge(
        "nodekeeper_log_bytes", "Size of the node's log files.", instance, logs.get("bytes")
    )
    if readings.log_lines is not None:
        lines = CounterMetricFamily(
            "nodekeeper_log_lines", "Node log lines written.", labels=["instance"]
        )
        lines.add_metric([instance], float(readings.log_lines))
        yield lines
    dropped = CounterMetricFamily(
        "nodekeeper_log_dropped_lines", "Node log lines dropped.", labels=["instance"]
    )
    dropped.add_metric([instance], float(logs.get("dropped_lines") or 0))
    yield dropped
    yield from _gauge(
        "nodekeeper_data_dir_free_bytes",
        "Free space on the data dir's disk.",
        instance,
        readings.free_bytes,
    )
    yield from _gauge(
        "nodekeeper_data_dir_size_bytes",
        "Size of the data dir's disk.",
        instance,
        readings.size_bytes,
    )
    yield from _gauge(
        "nodekeeper_core_resident_memory_bytes",
        "Resident memory of the nodekeeper core itself.",
        instance,
        readings.rss_bytes,
    )
    if readings.cpu_seconds is not None:
        cpu = CounterMetricFamily(
            "nodekeeper_core_cpu_seconds", "CPU time of the nodekeeper core.", labels=["instance"]
        )
        cpu.add_metric([instance], readings.cpu_seconds)
        yield cpu


class StatusCollector(Collector):
    def __init__(
        self,
        status: Callable[[], Mapping[str, Any]],
        data_dir: Path,
        recorder: EventRecorder,
        log_lines: Callable[[], int] | None = None,
    ) -> None:
        import psutil

        self._status = status
        self._log_lines = log_lines
        self._data_dir = data_dir
        self._recorder = recorder
        self._process = psutil.Process()
        self._last_success: float | None = None

    def collect(self) -> Iterable[Metric]:
        status = self._status()
        updates = status.get("updates") or {}
        last_check = epoch(updates.get("last_check"))
        if last_check is not None and updates.get("last_error") is None:
            # The last check went through: the failure streak is over.
            self._last_success = last_check
            self._recorder.update_succeeded()
        free: int | None = None
        size: int | None = None
        try:
            usage = shutil.disk_usage(self._data_dir)
            free, size = usage.free, usage.total
        except OSError:
            pass
        with self._process.oneshot():
            cpu = self._process.cpu_times()
            rss = self._process.memory_info().rss
        readings = Readings(
            free_bytes=free,
            size_bytes=size,
            rss_bytes=rss,
            cpu_seconds=cpu.user + cpu.system,
            consecutive_update_failures=self._recorder.consecutive_update_failures,
            last_update_success=self._last_success,
            log_lines=self._log_lines() if self._log_lines is not None else None,
        )
        return list(status_families(status, readings))
