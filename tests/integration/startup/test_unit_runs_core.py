"""The command and environment in the generated unit really run the core.

systemd is not needed: the test starts exactly the argv and environment
the unit file holds (read back by systemd's quoting rules) from `/`, as
systemd does, and stops it with the unit's KillSignal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, CoreHarness, wait_until
from tests.unit.startup.readers import systemd_environment, systemd_exec_argv, unit_settings


def test_unit_command_starts_the_core_and_its_kill_signal_stops_core_and_node(
    core: CoreHarness, tmp_path: Path
) -> None:
    config = core.write_config()
    root = tmp_path / "root"
    install = ["service", "install", "--config", str(config), "--root", str(root)]
    done = subprocess.run(
        [sys.executable, "-m", "nodekeeper.core", *install],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    unit = root / f"etc/systemd/system/nodekeeper-{core.instance}.service"
    settings = unit_settings(unit.read_text())
    argv = systemd_exec_argv(settings["Service.ExecStart"][0])
    environment = systemd_environment(" ".join(settings["Service.Environment"]))
    assert settings["Service.KillSignal"] == ["SIGTERM"]

    stderr = open(core.stderr_path, "ab")
    core.process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=stderr,
        stderr=stderr,
        env={"PATH": os.environ["PATH"], **environment},
        cwd="/",
    )
    stderr.close()
    core.wait_state("running", timeout=30)
    assert len(core.node_pids()) == 1

    core.process.send_signal(signal.SIGTERM)
    assert core.process.wait(timeout=30) == 0, core.stderr_text()
    core.process = None
    wait_until(lambda: not core.node_pids(), 10, "the node to be gone")
