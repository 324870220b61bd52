from __future__ import annotations

import socket
from pathlib import Path

from nodekeeper.tray.discovery import (
    DEFAULT_DASHBOARD,
    dashboard_from_health_url,
    discover,
    scan_pipes,
)
from tests.helpers import to_toml


def write_config(path: Path, sock: Path, health_url: str | None = None) -> Path:
    node: dict[str, object] = {"command": ["/bin/true"]}
    if health_url:
        node["health_url"] = health_url
    path.write_text(
        to_toml(
            {
                "instance": "alpha",
                "node": node,
                "paths": {"data_dir": str(path.parent / "d"), "socket": str(sock)},
            }
        )
    )
    return path


def make_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return sock


def test_configured_socket_and_dashboard_come_from_the_config(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "a.toml", tmp_path / "a.sock", "http://127.0.0.1:15002/api/sno"
    )
    (endpoint,), problems = discover([str(config)], socket_dirs=[])
    assert problems == []
    assert endpoint.socket == str(tmp_path / "a.sock")
    assert endpoint.name == "alpha"
    assert endpoint.dashboard_url == "http://127.0.0.1:15002/"


def test_sockets_in_the_default_folder_are_found_once(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    (folder / "beta").mkdir(parents=True)
    socks = [make_socket(folder / "alpha.sock"), make_socket(folder / "beta" / "beta.sock")]
    (folder / "notes.txt").write_text("not a socket")
    endpoints, _ = discover(sockets=[str(folder / "alpha.sock")], socket_dirs=[str(folder)])
    assert [e.name for e in endpoints] == ["alpha", "beta"]
    assert endpoints[0].origin == "--socket"
    for s in socks:
        s.close()


def test_broken_config_is_one_line_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("instance = [\n")
    endpoints, problems = discover([str(config)], socket_dirs=[])
    assert endpoints == []
    (problem,) = problems
    assert "bad.toml" in problem and "\n" not in problem


def test_missing_socket_folder_is_not_an_error(tmp_path: Path) -> None:
    assert discover(socket_dirs=[str(tmp_path / "nowhere")]) == ([], [])


def test_dashboard_falls_back_to_the_storj_default() -> None:
    assert dashboard_from_health_url(None) == DEFAULT_DASHBOARD
    assert dashboard_from_health_url("ftp://x/") == DEFAULT_DASHBOARD
    assert dashboard_from_health_url("https://node.lan:8443/api/sno") == "https://node.lan:8443/"


def test_windows_pipes_of_cores_are_recognised_by_name() -> None:
    endpoints = scan_pipes(["nodekeeper-beta", "spoolss", "nodekeeper-alpha"], "\\\\.\\pipe\\")
    assert [(e.socket, e.name) for e in endpoints] == [
        ("\\\\.\\pipe\\nodekeeper-alpha", "alpha"),
        ("\\\\.\\pipe\\nodekeeper-beta", "beta"),
    ]
