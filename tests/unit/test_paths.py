"""Per-OS default paths (core/paths.py), all OSes tested on any OS."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

import pytest

from nodekeeper.core import paths
from nodekeeper.core.paths import default_paths, max_socket_path_bytes, valid_instance_name

HOME = {"HOME": "/home/ann"}


def test_linux_root_uses_system_folders() -> None:
    p = default_paths("linux", True, HOME, "sn1")
    assert p.data_dir == PurePosixPath("/var/lib/nodekeeper/sn1")
    assert p.socket == "/run/nodekeeper/sn1.sock"
    assert p.config == PurePosixPath("/etc/nodekeeper/sn1.toml")
    assert p.socket_dir == "/run/nodekeeper"


def test_linux_user_follows_xdg_dirs() -> None:
    env = {
        "HOME": "/home/ann",
        "XDG_STATE_HOME": "/srv/state",
        "XDG_CONFIG_HOME": "/srv/config",
        "XDG_RUNTIME_DIR": "/run/user/1000",
    }
    p = default_paths("linux", False, env, "sn1")
    assert p.data_dir == PurePosixPath("/srv/state/nodekeeper/sn1")
    assert p.socket == "/run/user/1000/nodekeeper/sn1.sock"
    assert p.config == PurePosixPath("/srv/config/nodekeeper/sn1.toml")
    assert p.socket_dir == "/run/user/1000/nodekeeper"


def test_linux_user_without_xdg_uses_home_defaults_and_socket_beside_data() -> None:
    p = default_paths("linux", False, HOME, "sn1")
    assert p.data_dir == PurePosixPath("/home/ann/.local/state/nodekeeper/sn1")
    assert p.socket == "/home/ann/.local/state/nodekeeper/sn1/sn1.sock"
    assert p.config == PurePosixPath("/home/ann/.config/nodekeeper/sn1.toml")
    assert p.socket_dir == "/home/ann/.local/state/nodekeeper"


def test_relative_xdg_values_are_ignored_as_the_spec_requires() -> None:
    env = {**HOME, "XDG_STATE_HOME": "state", "XDG_RUNTIME_DIR": "run", "XDG_CONFIG_HOME": "cfg"}
    assert default_paths("linux", False, env, "a") == default_paths("linux", False, HOME, "a")


def test_macos_root_uses_library_and_var_run() -> None:
    p = default_paths("darwin", True, HOME, "sn1")
    assert p.data_dir == PurePosixPath("/Library/Application Support/nodekeeper/sn1")
    assert p.socket == "/var/run/nodekeeper/sn1.sock"
    assert p.config == PurePosixPath("/Library/Application Support/nodekeeper/sn1.toml")


def test_macos_user_uses_home_library() -> None:
    p = default_paths("darwin", False, {"HOME": "/Users/ann"}, "sn1")
    base = "/Users/ann/Library/Application Support/nodekeeper"
    assert p.data_dir == PurePosixPath(f"{base}/sn1")
    assert p.socket == f"{base}/sn1.sock"
    assert p.config == PurePosixPath(f"{base}/sn1.toml")
    assert p.socket_dir == base


@pytest.mark.parametrize("is_admin", [True, False])
def test_windows_uses_program_data_and_a_named_pipe(is_admin: bool) -> None:
    p = default_paths("windows", is_admin, {"ProgramData": "D:\\PD"}, "sn1")
    assert p.data_dir == PureWindowsPath("D:\\PD\\nodekeeper\\sn1")
    assert p.socket == "\\\\.\\pipe\\nodekeeper-sn1"
    assert p.config == PureWindowsPath("D:\\PD\\nodekeeper\\sn1.toml")
    assert p.socket_dir == "\\\\.\\pipe\\"


def test_windows_without_program_data_falls_back_to_c_drive() -> None:
    p = default_paths("windows", True, {}, "sn1")
    assert p.data_dir == PureWindowsPath("C:\\ProgramData\\nodekeeper\\sn1")


def test_instances_never_share_a_path() -> None:
    for os_name in ("linux", "darwin", "windows"):
        for admin in (True, False):
            a = default_paths(os_name, admin, HOME, "a")  # type: ignore[arg-type]
            b = default_paths(os_name, admin, HOME, "b")  # type: ignore[arg-type]
            assert a.data_dir != b.data_dir and a.socket != b.socket and a.config != b.config
            assert a.socket_dir == b.socket_dir


def test_unknown_os_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported OS"):
        default_paths("plan9", True, HOME, "a")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["storagenode", "node-2", "a.b_c", "x" * 64])
def test_safe_instance_names_are_accepted(name: str) -> None:
    assert valid_instance_name(name)


@pytest.mark.parametrize("name", ["", ".", "..", "../evil", "a/b", "a b", "x" * 65, "nöde", "a\\b"])
def test_unsafe_instance_names_are_refused(name: str) -> None:
    assert not valid_instance_name(name)


def test_socket_path_limits_per_os() -> None:
    assert max_socket_path_bytes("linux") == 107
    assert max_socket_path_bytes("darwin") == 103
    assert max_socket_path_bytes("windows") is None


def test_running_system_defaults_match_the_pure_function(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/4242")
    expected = default_paths(
        paths.current_os(), paths.running_as_admin(), paths.current_environment(), "zz"
    )
    assert str(paths.default_data_dir("zz")) == str(expected.data_dir)
    assert paths.default_socket("zz") == expected.socket
    assert str(paths.default_config_path("zz")) == str(expected.config)
    assert paths.default_socket_dir() == expected.socket_dir
    search = paths.socket_search_dirs()
    assert expected.socket_dir in search
    assert (
        search[0]
        == default_paths(paths.current_os(), True, paths.current_environment(), "zz").socket_dir
    )
