"""node.user: a root core runs the node as a real second user, with that user's ids."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.faults.security.conftest import OtherUser
from tests.helpers import REPO, CoreHarness, wait_until


def node_log(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.glob("*.log") if p.is_file())


@pytest.fixture
def open_root() -> Iterator[Path]:
    """A harness folder the node's user can reach (pytest's own are root's, 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="nk-node-user-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_the_node_runs_as_node_user_and_the_core_stays_root(
    open_root: Path, second_user: OtherUser
) -> None:
    core = CoreHarness(open_root)
    # The harness's python lives under /root (0700): a shell node the user can run.
    script = "echo node up as $(id -u); while :; do sleep 0.2; done"
    core.node["command"] = ["/bin/sh", "-c", script, core.marker]
    core.node["stop_signal"] = "SIGTERM"
    del core.node["health_url"]
    core.node["user"] = second_user.name
    try:
        core.start()
        assert core.process is not None
        pid = core.node_status()["pid"]
        node = psutil.Process(pid)
        assert node.uids().real == node.uids().effective == second_user.uid
        assert node.gids().real == node.gids().effective == second_user.gid
        assert psutil.Process(core.process.pid).uids().effective == 0
        assert core.node_pids() == [pid]
        # The log pipes still carry its output to the core's log files.
        wait_until(
            lambda: f"node up as {second_user.uid}" in node_log(open_root / "logs"),
            10,
            "the node's output in the log",
        )
        assert core.stop() == 0
    finally:
        core.cleanup()


def test_node_user_must_exist(tmp_path: Path) -> None:
    core = CoreHarness(tmp_path)
    core.node["user"] = "nk-no-such-user"
    run = subprocess.run(
        [sys.executable, "-m", "nodekeeper.core", "run", "--config", str(core.write_config())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "node.user: there is no user 'nk-no-such-user' on this machine" in lines[0]
