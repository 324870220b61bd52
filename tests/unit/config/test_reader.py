"""Reading the configuration file: every key with its units, and one-line errors for bad ones."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from nodekeeper.core.config import (
    Config,
    GiB,
    MiB,
    config_from_dict,
    load_config,
)
from nodekeeper.core.errors import ConfigError
from nodekeeper.core.paths import DefaultPaths
from tests.unit.config.support import LINUX_ROOT, full, minimal, write


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match="cannot read the config file: No such file") as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_directory_instead_of_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('instance = "x"\n[node\ncommand = ["a"]\n')
    with pytest.raises(ConfigError, match=r"TOML syntax error.*line 2") as caught:
        load_config(path)
    assert str(caught.value).startswith(str(path))


def test_non_utf8_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'instance = "n\xf6de"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_every_key_is_read_with_its_units(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, full()), LINUX_ROOT)
    assert config.instance == "sn-2"
    assert config.node.workdir == tmp_path / "work"
    assert config.node.env["Q"] == 'a "quoted" \\ value\twith tab'
    assert (config.node.stop_timeout, config.node.health_timeout, config.node.restart_delay) == (
        45.0,
        0.5,
        0.25,
    )
    assert config.node.crash_loop_window == 3600.0
    assert (
        config.limits.memory_max == 4 * GiB
        and config.limits.cpu_max == 1.5
        and config.limits.nice == 10
    )
    assert config.updates.trusted_root == tmp_path / "root.json"
    assert config.updates.public_key == "ab" * 32
    assert config.updates.min_free_space == 500 * 10**6
    assert (config.updates.interval, config.updates.jitter, config.updates.startup_delay) == (
        3600.0,
        300.0,
        0.0,
    )
    assert config.logs.max_age == 7 * 86400.0 and config.logs.max_file_size == MiB
    assert config.paths.data_dir == tmp_path / "data"
    assert config.paths.socket == str(tmp_path / "run" / "nk.sock")


def test_relative_paths_are_resolved_against_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    data = minimal()
    data["paths"] = {"data_dir": "../state"}
    data["node"]["initial_binary"] = "bin/sn"
    config = load_config(write(folder, data))
    assert config.paths.data_dir == folder / ".." / "state"
    assert config.node.initial_binary == folder / "bin" / "sn"
    assert config.logs.dir == config.paths.data_dir / "logs"


def test_config_path_given_relative_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, minimal())
    monkeypatch.chdir(tmp_path)
    assert load_config("nk.toml", LINUX_ROOT).source == tmp_path / "nk.toml"


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("SIGINT", "SIGINT"),
        ("sigterm", "SIGTERM"),
        ("HUP", "SIGHUP"),
        ("CTRL_BREAK", "CTRL_BREAK"),
        ("CTRL_C_EVENT", "CTRL_C"),
    ],
)
def test_stop_signal_names_are_normalised(tmp_path: Path, written: str, stored: str) -> None:
    data = minimal()
    data["node"]["stop_signal"] = written
    assert load_config(write(tmp_path, data), LINUX_ROOT).node.stop_signal == stored


@pytest.mark.parametrize(
    ("source", "url"), [("storj", "https://version.storj.io"), ("github", "https://api.github.com")]
)
def test_update_url_default_follows_the_source(tmp_path: Path, source: str, url: str) -> None:
    data = minimal()
    data["updates"] = {"source": source}
    assert load_config(write(tmp_path, data), LINUX_ROOT).updates.url == url


def test_http_update_url_is_allowed_only_with_allow_http(tmp_path: Path) -> None:
    data = minimal()
    data["updates"] = {"url": "http://127.0.0.1:9/", "allow_http": True}
    assert load_config(write(tmp_path, data), LINUX_ROOT).updates.url == "http://127.0.0.1:9/"


@pytest.mark.parametrize(
    "node_id", ["1SkB92YpWm4Q2ijQHH34cqbKkCZWszsiQgHVjtNeFExggbYvy", "00" * 32]
)
def test_node_id_accepts_base58_and_hex(tmp_path: Path, node_id: str) -> None:
    data = minimal()
    data["updates"] = {"node_id": node_id}
    assert load_config(write(tmp_path, data), LINUX_ROOT).updates.node_id == node_id


def test_default_paths_follow_the_instance_name(tmp_path: Path) -> None:
    data = minimal()
    data["instance"] = "second"
    config: Config = load_config(write(tmp_path, data))
    assert config.paths.data_dir.name == "second"
    assert "second" in config.paths.socket


def test_an_overlong_default_socket_is_reported_with_the_key_to_set(tmp_path: Path) -> None:
    deep = DefaultPaths(
        data_dir=PurePosixPath("/home/" + "u" * 100),
        socket="/home/" + "u" * 100 + "/sn.sock",
        config=PurePosixPath("/home/u/sn.toml"),
        socket_dir="/home/" + "u" * 100,
    )
    with pytest.raises(ConfigError, match=r"paths\.socket: path is 114 bytes.*set paths\.socket"):
        config_from_dict(minimal(), tmp_path / "nk.toml", deep)
