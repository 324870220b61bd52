"""Checks before the tray starts: one line, not a traceback, when it cannot start here.

The tray needs PySide6 (the ``tray`` extra) and, on Linux and the BSDs, a
graphical session; both are checked before Qt is imported or started,
which would otherwise fail with an import traceback or abort the process.
This module imports nothing from Qt.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

MISSING_QT = (
    "nodekeeper-tray: PySide6 is not installed; install nodekeeper[tray] "
    "(pip install 'nodekeeper[tray]')"
)
NO_SESSION = (
    "nodekeeper-tray: no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set); "
    "start it from your desktop session"
)


def require_qt() -> None:
    """Exit with one line (status 1) when PySide6 cannot be found."""
    try:
        found = importlib.util.find_spec("PySide6.QtWidgets") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise SystemExit(MISSING_QT)


def session_problem(env: Mapping[str, str], platform: str) -> str | None:
    """Why Qt cannot show a tray icon in this environment, or None."""
    if platform.startswith(("win", "darwin", "cygwin")):
        return None
    if env.get("QT_QPA_PLATFORM"):  # an explicit choice (offscreen, vnc...) is the user's
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return NO_SESSION
