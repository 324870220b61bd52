"""installers/linux/nodekeeper@.service: valid for systemd and in step with what install writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nodekeeper.core.startup import sandbox, systemd
from tests.helpers import REPO
from tests.unit.startup.readers import systemd_exec_argv, unit_settings
from tests.unit.startup.specs import make_spec

TEMPLATE = REPO / "installers" / "linux" / "nodekeeper@.service"
SHARED = (
    "Unit.After",
    "Unit.Wants",
    "Unit.StartLimitIntervalSec",
    "Service.Type",
    "Service.NotifyAccess",
    "Service.WatchdogSec",
    "Service.User",
    "Service.Group",
    "Service.ProtectHome",
    "Service.RuntimeDirectory",
    "Service.RuntimeDirectoryPreserve",
    "Service.Restart",
    "Service.RestartSec",
    "Service.KillMode",
    "Service.KillSignal",
    "Service.TimeoutStopSec",
    "Install.WantedBy",
)


def test_template_matches_the_generated_unit_in_every_shared_setting() -> None:
    template = unit_settings(TEMPLATE.read_text())
    generated = unit_settings(systemd.unit_text(make_spec(stop_timeout=30.0)))
    for key in SHARED:
        assert template[key] == generated[key], key
    for line in sandbox.HARDENING:
        key, _, value = line.partition("=")
        assert template[f"Service.{key}"] == generated[f"Service.{key}"] == [value], key
    assert systemd_exec_argv(template["Service.ExecStart"][0].replace("%i", "%%i")) == [
        "/usr/bin/nodekeeper",
        "run",
        "--config",
        "/etc/nodekeeper/%i.toml",
    ]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_template_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that the program exists: point it at a real one.
    unit = tmp_path / "nodekeeper@.service"
    unit.write_text(TEMPLATE.read_text().replace("/usr/bin/nodekeeper", sys.executable))
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "nodekeeper@storagenode.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr
    assert verify.stderr.strip() == "" and verify.stdout.strip() == ""
