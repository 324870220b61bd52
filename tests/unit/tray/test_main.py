"""The `nodekeeper-tray` command itself, run as a real process (offscreen)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, wait_until
from tests.unit.tray.protocol_server import ProtocolServer


def tray(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen(
        [sys.executable, "-m", "nodekeeper.tray.app", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def test_unusable_config_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('instance = "x"\n[node]\ncommand = "not a list"\n')
    process = tray("--config", str(config), "--no-scan")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stderr.count("\n") == 1 and "node.toml" in stderr and "Traceback" not in stderr


def test_dashboard_must_be_a_web_url() -> None:
    process = tray("--dashboard", "file:///etc/passwd", "--no-scan")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert (
        stderr == "nodekeeper-tray: --dashboard must be an http(s) URL, not 'file:///etc/passwd'\n"
    )


def test_tray_connects_and_stops_cleanly_on_sigterm(core_server: ProtocolServer) -> None:
    process = tray("--socket", str(core_server.path), "--no-scan")
    try:
        wait_until(lambda: "subscribe" in core_server.methods(), 20, "the tray to subscribe")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
