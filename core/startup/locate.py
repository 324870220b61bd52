"""Finds how this installation of nodekeeper is started, for the service definitions.

Small questions to the running system (which program is running, is the
tray installed, is systemd the init system); the answers are handed to the
pure plan in :mod:`nodekeeper.core.startup.plan`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from nodekeeper.core.selfexec import is_frozen

_SCRIPT_NAMES = ("nodekeeper", "nodekeeper.exe")


def core_command(argv0: str | None = None, executable: str | None = None) -> tuple[str, ...]:
    """The `nodekeeper` executable that is running, else ``<python> -m nodekeeper.core``."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    program = Path(argv0)
    if program.name.lower() in _SCRIPT_NAMES and program.is_file():
        return (str(program.absolute()),)
    windows_exe = program.with_name(program.name + ".exe")
    if program.name.lower() == "nodekeeper" and windows_exe.is_file():
        return (str(windows_exe.absolute()),)
    if is_frozen():
        return (str(Path(executable).absolute()),)
    # Not resolved: a virtual environment's python must stay the venv's path.
    return (str(Path(executable).absolute()), "-m", "nodekeeper.core")


def tray_command(core: tuple[str, ...], executable: str | None = None) -> tuple[str, ...] | None:
    """How to start the tray, or None when it is not installed (no PySide6)."""
    if importlib.util.find_spec("PySide6") is None:
        return None
    if len(core) == 1:
        folder = Path(core[0]).parent
        for name in ("nodekeeper-tray", "nodekeeper-tray.exe"):
            if (folder / name).is_file():
                return (str(folder / name),)
    if importlib.util.find_spec("nodekeeper.tray") is None:
        return None
    executable = sys.executable if executable is None else executable
    return (str(Path(executable).absolute()), "-m", "nodekeeper.tray.app")


_SESSION_DIRS = ("/usr/share/xsessions", "/usr/share/wayland-sessions")


def graphical_desktop(os_name: str, env: dict[str, str] | None = None) -> bool:
    """True when users of this machine can log in to a desktop the tray could show in.

    macOS and Windows always have one. On Linux: a desktop session is
    installed (a display manager lists it), or whoever installs is in one.
    """
    if os_name != "linux":
        return True
    env = dict(os.environ) if env is None else env
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return True
    for folder in _SESSION_DIRS:
        try:
            if any(name.endswith(".desktop") for name in os.listdir(folder)):
                return True
        except OSError:
            continue
    return False


def systemd_running() -> bool:
    """True when systemd is the init system (the test sd_booted(3) makes)."""
    return Path("/run/systemd/system").is_dir()
