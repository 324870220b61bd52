"""A real node that cannot bind its port: status says why, in words, with its last line."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

from tests.helpers import REPO, CoreHarness, wait_until


def test_a_crash_is_told_with_the_nodes_last_line(core: CoreHarness) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", core.port))
        taken.listen()
        core.start(wait_running=False)

        def said() -> dict[str, Any] | None:
            last_exit = core.node_status().get("last_exit") or {}
            line = last_exit.get("last_line") or ""
            return last_exit if "already in use" in line.lower() else None

        last_exit = wait_until(said, 30, "the node's last line in status")
        assert last_exit["reason"] == "crashed" and last_exit["code"] == 1
        assert isinstance(last_exit["ran_s"], float | int) and last_exit["ran_s"] < 30
        text = subprocess.run(
            [sys.executable, "-m", "nodekeeper.core", "status", "--config", str(core.config_path)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
        assert text.returncode == 0, text.stderr
        [line] = [x for x in text.stdout.splitlines() if "last exit:" in x]
        assert "exited with code 1 after" in line
        assert line.lower().rstrip().endswith("address already in use"), line
