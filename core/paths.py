"""Default places for an instance's data, socket and config file, per OS.

The decision is one pure function, :func:`default_paths`, that takes the OS
name, whether the caller is root/Administrator and the environment, so the
defaults of every OS are tested on any OS. The small wrappers below it ask
the running system for those three inputs. Nothing here creates folders.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Literal

OsName = Literal["linux", "darwin", "windows"]

DEFAULT_INSTANCE = "storagenode"

# sun_path is 108 bytes on Linux and 104 on macOS/BSD, NUL terminator included.
_MAX_SOCKET_PATH_BYTES: dict[str, int] = {"linux": 107, "darwin": 103}

_INSTANCE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")

WINDOWS_PIPE_PREFIX = "\\\\.\\pipe\\"


@dataclass(frozen=True)
class DefaultPaths:
    data_dir: PurePath
    # A filesystem path on POSIX, a named-pipe name on Windows.
    socket: str
    config: PurePath
    # Where clients (the tray) look for the sockets of this user's cores.
    socket_dir: str


def valid_instance_name(name: str) -> bool:
    """Instance names become file, socket and service names: keep them plain."""
    return bool(_INSTANCE_NAME.fullmatch(name)) and name not in (".", "..")


def max_socket_path_bytes(os_name: str) -> int | None:
    """The longest AF_UNIX path the OS accepts, or None where sockets are not paths."""
    return _MAX_SOCKET_PATH_BYTES.get(os_name)


def default_paths(
    os_name: OsName, is_admin: bool, env: Mapping[str, str], instance: str
) -> DefaultPaths:
    """The default data dir, socket and config file of ``instance``.

    ``env`` supplies HOME, XDG_* (Linux) and ProgramData (Windows); a missing
    HOME falls back to ``/root`` for root and ``/`` otherwise, so the result
    never depends on anything but the arguments.
    """
    if os_name == "windows":
        program_data = PureWindowsPath(
            env.get("ProgramData") or env.get("PROGRAMDATA") or "C:\\ProgramData"
        )
        windows_base = program_data / "nodekeeper"
        return DefaultPaths(
            data_dir=windows_base / instance,
            socket=f"{WINDOWS_PIPE_PREFIX}nodekeeper-{instance}",
            config=windows_base / f"{instance}.toml",
            socket_dir=WINDOWS_PIPE_PREFIX,
        )
    home = PurePosixPath(env.get("HOME") or ("/root" if is_admin else "/"))
    if os_name == "darwin":
        if is_admin:
            base = PurePosixPath("/Library/Application Support/nodekeeper")
            return DefaultPaths(
                data_dir=base / instance,
                socket=f"/var/run/nodekeeper/{instance}.sock",
                config=base / f"{instance}.toml",
                socket_dir="/var/run/nodekeeper",
            )
        base = home / "Library/Application Support/nodekeeper"
        return DefaultPaths(
            data_dir=base / instance,
            socket=str(base / f"{instance}.sock"),
            config=base / f"{instance}.toml",
            socket_dir=str(base),
        )
    if os_name != "linux":
        raise ValueError(f"unsupported OS {os_name!r}")
    if is_admin:
        return DefaultPaths(
            data_dir=PurePosixPath("/var/lib/nodekeeper") / instance,
            socket=f"/run/nodekeeper/{instance}.sock",
            config=PurePosixPath("/etc/nodekeeper") / f"{instance}.toml",
            socket_dir="/run/nodekeeper",
        )
    state_home = _xdg_dir(env, "XDG_STATE_HOME", home / ".local/state")
    config_home = _xdg_dir(env, "XDG_CONFIG_HOME", home / ".config")
    data_dir = state_home / "nodekeeper" / instance
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/"):
        socket_dir = str(PurePosixPath(runtime) / "nodekeeper")
        socket = f"{socket_dir}/{instance}.sock"
    else:
        # Without a runtime dir the socket lives beside the instance's data.
        socket_dir = str(state_home / "nodekeeper")
        socket = str(data_dir / f"{instance}.sock")
    return DefaultPaths(
        data_dir=data_dir,
        socket=socket,
        config=config_home / "nodekeeper" / f"{instance}.toml",
        socket_dir=socket_dir,
    )


def _xdg_dir(env: Mapping[str, str], name: str, fallback: PurePosixPath) -> PurePosixPath:
    # The XDG spec says relative values are invalid and must be ignored.
    value = env.get(name, "")
    return PurePosixPath(value) if value.startswith("/") else fallback


# --- the running system -------------------------------------------------------


def current_os() -> OsName:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "darwin"
    # Other POSIX systems (FreeBSD) follow the Linux layout.
    return "linux"


def running_as_admin() -> bool:
    # sys.platform rather than current_os(), so that mypy --platform sees the guard.
    if sys.platform == "win32":
        import ctypes

        try:
            return bool(ctypes.windll.shell32.IsUserAnAdmin())
        except (AttributeError, OSError):
            return False
    else:
        return os.geteuid() == 0


def current_environment() -> dict[str, str]:
    env = dict(os.environ)
    if not env.get("HOME") and current_os() != "windows":
        env["HOME"] = str(Path.home())
    return env


def current_defaults(instance: str = DEFAULT_INSTANCE) -> DefaultPaths:
    return default_paths(current_os(), running_as_admin(), current_environment(), instance)


def default_data_dir(instance: str = DEFAULT_INSTANCE) -> Path:
    return Path(str(current_defaults(instance).data_dir))


def default_socket(instance: str = DEFAULT_INSTANCE) -> str:
    return current_defaults(instance).socket


def default_config_path(instance: str = DEFAULT_INSTANCE) -> Path:
    return Path(str(current_defaults(instance).config))


def default_socket_dir() -> str:
    """The folder (Windows: pipe namespace prefix) where this user's cores put their sockets."""
    return current_defaults(DEFAULT_INSTANCE).socket_dir


def socket_search_dirs() -> tuple[str, ...]:
    """Every folder a client should scan: the system-wide one first, then this user's.

    On Linux without XDG_RUNTIME_DIR a user's sockets sit one level deeper
    (``<dir>/<instance>/<instance>.sock``); scanning ``*.sock`` and
    ``*/*.sock`` under each folder finds both layouts.
    """
    os_name = current_os()
    env = current_environment()
    system = default_paths(os_name, True, env, DEFAULT_INSTANCE).socket_dir
    user = default_paths(os_name, False, env, DEFAULT_INSTANCE).socket_dir
    return (system,) if system == user else (system, user)
