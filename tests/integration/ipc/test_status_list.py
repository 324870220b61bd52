"""`nodekeeper status` with no target lists every core; NODEKEEPER_CONFIG names one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from tests.helpers import run_cli
from tests.integration.ipc.support import FakeCore


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k != "NODEKEEPER_CONFIG"}
    return run_cli(*args, env={**inherited, **env})


def test_status_lists_every_core_and_marks_a_dead_socket(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    folder = runtime / "nodekeeper"
    folder.mkdir(parents=True)
    cores = [FakeCore(folder / "a.sock"), FakeCore(folder / "b.sock")]
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(folder / "stale.sock"))
    stale.close()  # a socket file nobody listens on, as a killed core leaves it
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(runtime)}
    try:
        result = cli(env, "status")
    finally:
        for core in cores:
            core.stop()
    lines = result.stdout.splitlines()
    # Other cores of this machine (the system folder) may be listed too.
    ours = [line for line in lines if line.startswith("fake ")]
    assert len(ours) == 2, result.stdout
    assert all(line.split()[1:3] == ["RUNNING", "1.2.3"] for line in ours)
    dead = [line for line in lines if line.startswith("stale ")]
    assert len(dead) == 1 and "UNREACHABLE" in dead[0]
    assert result.returncode == 3


def test_nodekeeper_config_selects_one_core(tmp_path: Path) -> None:
    core = FakeCore(tmp_path / "core.sock")
    config = tmp_path / "node.toml"
    config.write_text(
        'instance = "fake"\n[node]\ncommand = ["/bin/true"]\n'
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\nsocket = "{core.path}"\n'
    )
    try:
        result = cli({"NODEKEEPER_CONFIG": str(config)}, "status", "--json")
        text = cli({"NODEKEEPER_CONFIG": str(config)}, "status")
        version = cli({"NODEKEEPER_CONFIG": str(config)}, "--version")
    finally:
        core.stop()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["instance"] == "fake"
    assert text.returncode == 0 and text.stdout.startswith("instance  fake")
    assert version.returncode == 0
    assert version.stdout.splitlines()[0].startswith("nodekeeper ")


def test_version_shows_the_node_version_of_a_configured_core(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "state.json").write_text(json.dumps({"schema": 1, "current": "1.119.5"}))
    config = tmp_path / "node.toml"
    config.write_text(
        'instance = "sn9"\n[node]\ncommand = ["/bin/true"]\n'
        f'[paths]\ndata_dir = "{data}"\nsocket = "{tmp_path / "none.sock"}"\n'
    )
    env = {
        "NODEKEEPER_CONFIG": str(config),
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(tmp_path / "empty-run"),
    }
    result = cli(env, "--version")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("nodekeeper ")
    # Running cores elsewhere on this machine would be listed instead.
    if len(lines) == 2 and "not running" in lines[1]:
        assert lines[1] == "storage node 1.119.5 (instance sn9, not running)"
