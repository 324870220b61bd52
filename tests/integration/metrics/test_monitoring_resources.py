"""resources/: the alert rules pass promtool; rules and dashboard name series the core exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from nodekeeper.core.events import Event
from nodekeeper.core.metrics.collector import Readings, status_families
from nodekeeper.core.metrics.recorder import EventRecorder
from nodekeeper.core.supervise.health import ProbeResult
from tests.helpers import REPO

RULES_DIR = REPO / "resources" / "prometheus"
RULES = RULES_DIR / "nodekeeper-alerts.yml"
RULES_TEST = RULES_DIR / "nodekeeper-alerts.test.yml"
CONTRACT = REPO / "docs" / "contract.md"
DASHBOARD = REPO / "resources" / "grafana" / "nodekeeper-dashboard.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="Debian package prometheus missing")
METRIC = re.compile(r"\bnodekeeper_[a-z_]+")
ALERTS = {
    "NodekeeperNodeDown",
    "NodekeeperCrashLooping",
    "NodekeeperBelowMinimumVersion",
    "NodekeeperUpdatesFailing",
    "NodekeeperLogsDropping",
    "NodekeeperDiskNearlyFull",
}


def exported_names() -> set[str]:
    """Every sample name a core with everything set exposes."""
    registry = CollectorRegistry()
    recorder = EventRecorder("sn1", registry)
    recorder.on_event(Event("node-exited", {"reason": "crashed"}))
    recorder.timed(lambda url, timeout: ProbeResult(True))("http://x/", 1.0)
    status = {
        "instance": "sn1",
        "node": {"state": "running", "version": "1.0.0", "healthy": True,
                 "last_exit": {"code": 1}},
        "updates": {"state": "downloading", "last_check": "2026-01-01T00:00:00Z", "minimum": "1.1.0",
                    "progress": {"bytes": 1, "total": 2}},
        "logs": {"bytes": 1, "dropped_lines": 0},
    }  # fmt: skip
    readings = Readings(1, 2, 3, 4.0, 0, 5.0, 6)
    text = generate_latest(registry).decode()
    names = {line.split("{")[0] for line in text.splitlines() if not line.startswith("#")}

    class Fixed:
        def collect(self) -> Any:
            return status_families(status, readings)

    registry.register(Fixed())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    names |= {line.split("{")[0] for line in text.splitlines() if line and line[0] != "#"}
    return names


@needs_promtool
def test_the_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    assert PROMTOOL is not None
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULES_TEST)]):
        done = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout


def test_the_rules_cover_every_alert_and_name_exported_series() -> None:
    text = RULES.read_text()
    assert set(re.findall(r"alert: (\w+)", text)) == ALERTS
    # The alert test exercises every alert.
    assert set(re.findall(r"alertname: (\w+)", RULES_TEST.read_text())) == ALERTS
    exprs = re.findall(r"expr: (.+)", text)
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    assert used and used <= exported_names(), used - exported_names()


def test_the_dashboard_is_json_whose_queries_name_exported_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 10
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    exported = exported_names()
    assert used <= exported, used - exported
    # Every panel can be narrowed to the instances picked at the top.
    assert all('instance=~"$instance"' in expr for expr in exprs)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_contract_lists_exactly_the_exported_series() -> None:
    text = CONTRACT.read_text(encoding="utf-8")
    section = text[text.index("### Metrics") :]
    section = section[: section.index("\n## ")]
    listed = set(METRIC.findall(section))
    # A histogram is listed once by its name; the exposition adds its parts.
    exported = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for name in exported_names()
        if not name.endswith("_created")
    }
    assert listed == exported
