"""`nodekeeper logs --socket`: the tail from a running core."""

from __future__ import annotations

import subprocess

from tests.helpers import CoreHarness, run_cli, wait_until


def logs(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("logs", *args)


def test_tail_through_the_socket_matches_the_file(core: CoreHarness) -> None:
    core.node["command"] += ["--log-rate", "50"]
    core.start()
    log_file = core.root / "logs" / f"{core.instance}.log"
    wait_until(lambda: log_file.exists() and log_file.read_text().count("\n") > 20, 10, "log lines")
    result = logs("--socket", str(core.socket_path), "-n", "5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    assert all(line in log_file.read_text() for line in lines)


def test_follow_needs_the_files(core: CoreHarness) -> None:
    core.start()
    result = logs("--socket", str(core.socket_path), "-f")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--config" in result.stderr


def test_no_core_running_is_exit_3(core: CoreHarness) -> None:
    result = logs("--socket", str(core.root / "nothing.sock"))
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1
