"""Both units score at most 2.0 ("OK") in `systemd-analyze security` and pass `verify`.

systemd need not run: ``--offline=true`` scores the unit file itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nodekeeper.core.startup import systemd
from tests.helpers import REPO
from tests.unit.startup.specs import make_spec

GOAL = 2.0
TEMPLATE = REPO / "installers" / "linux" / "nodekeeper@.service"

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


def exposure(unit: Path) -> float:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert match, f"no score in:\n{done.stdout}\n{done.stderr}"
    return float(match.group(1))


def verify(unit: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "" and done.stdout.strip() == ""


def generated_unit(tmp_path: Path) -> Path:
    # verify insists that the program exists: point it at a real one.
    spec = make_spec(core_command=(sys.executable, "-m", "nodekeeper.core"))
    unit = tmp_path / systemd.unit_name(spec.instance)
    unit.write_text(systemd.unit_text(spec))
    return unit


def template_instance(tmp_path: Path) -> Path:
    (tmp_path / "nodekeeper@.service").write_text(
        TEMPLATE.read_text().replace("/usr/bin/nodekeeper", sys.executable)
    )
    return tmp_path / "nodekeeper@storagenode.service"


def test_generated_unit_exposure_is_at_most_two(tmp_path: Path) -> None:
    assert exposure(generated_unit(tmp_path)) <= GOAL


def test_packaged_template_unit_exposure_is_at_most_two(tmp_path: Path) -> None:
    assert exposure(template_instance(tmp_path)) <= GOAL


def test_generated_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    verify(generated_unit(tmp_path))


def test_generated_unit_with_awkward_folders_passes_verify(tmp_path: Path) -> None:
    spec = make_spec(
        core_command=(sys.executable, "-m", "nodekeeper.core"),
        data_dir="/srv/my nodes/100%/sn",
        logs_dir="/var/log/nodekeeper",
        node_workdir="/home/op/storj",
    )
    unit = tmp_path / systemd.unit_name(spec.instance)
    unit.write_text(systemd.unit_text(spec))
    verify(unit)
