"""The demo's configuration, written by the shared config writer, is a valid config."""

from __future__ import annotations

import tomllib
from pathlib import Path

from nodekeeper.core.config import config_from_dict, to_toml
from nodekeeper.core.demo.scenario import demo_config, demo_socket
from nodekeeper.core.paths import WINDOWS_PIPE_PREFIX


def test_the_demo_config_loads_with_what_the_demo_needs(tmp_path: Path) -> None:
    data = demo_config(
        node_port=14002,
        initial_binary=tmp_path / "release" / "storagenode",
        repo=tmp_path / "repo",
        repo_url="http://127.0.0.1:8080/",
        data_dir=tmp_path / "data",
        logs_dir=tmp_path / "logs",
        socket=tmp_path / "demo.sock",
    )
    text = to_toml(data)
    config = config_from_dict(tomllib.loads(text), tmp_path / "nodekeeper.toml")
    assert config.instance == "demo"
    assert config.node.command[:2] == ("{binary}", "run")
    assert config.node.initial_binary == tmp_path / "release" / "storagenode"
    assert config.node.health_url == "http://127.0.0.1:14002/api/sno"
    assert (config.node.health_interval, config.node.health_timeout) == (1.0, 0.5)
    assert (config.updates.source, config.updates.url) == ("tuf", "http://127.0.0.1:8080/")
    assert config.updates.trusted_root == tmp_path / "repo" / "metadata" / "1.root.json"
    assert config.updates.probation == 4.0
    assert (config.paths.data_dir, config.paths.socket) == (
        tmp_path / "data",
        str(tmp_path / "demo.sock"),
    )
    assert config.logs.dir == tmp_path / "logs"


def test_the_demo_core_listens_in_its_folder_or_on_a_pipe_of_its_own_on_windows(
    tmp_path: Path,
) -> None:
    assert demo_socket(tmp_path, "linux") == str(tmp_path / "demo.sock")
    assert demo_socket(tmp_path, "darwin") == str(tmp_path / "demo.sock")
    pipe = demo_socket(tmp_path, "windows")
    assert pipe.startswith(f"{WINDOWS_PIPE_PREFIX}nodekeeper-demo-")
    assert pipe == demo_socket(tmp_path, "windows")
    assert pipe != demo_socket(tmp_path / "other", "windows")
