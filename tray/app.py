"""nodekeeper-tray's entry point: the command line, the cores it watches, the Qt app.

:func:`main` parses the command line, finds the cores, checks for a desktop
session and runs :class:`~nodekeeper.tray.tray_app.TrayApp` (re-exported
here) until the tray quits. It quits only itself, never a core.
"""

# PySide6 is imported after require_qt(): without it, one line instead of an ImportError.
# ruff: noqa: E402

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from nodekeeper.tray.launch import require_qt, session_problem

require_qt()  # without PySide6: one line naming the extra to install, not an ImportError

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from nodekeeper.core import __version__
from nodekeeper.core.errors import ConfigError
from nodekeeper.tray.discovery import Endpoint, discover
from nodekeeper.tray.icons import STYLES, IconSet, auto_style
from nodekeeper.tray.instance import IconState
from nodekeeper.tray.tray_app import TrayApp

__all__ = ["TrayApp", "build_parser", "main"]


# -- entry point -------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nodekeeper-tray", description="Tray icon for nodekeeper cores."
    )
    parser.add_argument(
        "--config", action="append", default=[], metavar="FILE", help="a core's config file"
    )
    parser.add_argument(
        "--socket", action="append", default=[], metavar="PATH", help="a core's control socket"
    )
    parser.add_argument(
        "--dashboard", metavar="URL", help="the node dashboard to open (default: from health_url)"
    )
    parser.add_argument("--icon-style", choices=("auto", *STYLES), default="auto")
    parser.add_argument(
        "--no-scan",
        action="store_true",
        help="watch only the given cores, not the default socket folders",
    )
    parser.add_argument("--version", action="version", version=f"nodekeeper-tray {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.dashboard and not args.dashboard.startswith(("http://", "https://")):
        print(
            f"nodekeeper-tray: --dashboard must be an http(s) URL, not {args.dashboard!r}",
            file=sys.stderr,
        )
        return 2
    scan_dirs: list[str] | None = [] if args.no_scan else None

    def find() -> list[Endpoint]:
        return discover(args.config, args.socket, scan_dirs, args.dashboard)[0]

    endpoints, problems = discover(args.config, args.socket, scan_dirs, args.dashboard)
    if problems:
        for problem in problems:
            print(f"nodekeeper-tray: {problem}", file=sys.stderr)
        return ConfigError.exit_code
    no_session = None if QApplication.instance() else session_problem(os.environ, sys.platform)
    if no_session is not None:
        print(no_session, file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("nodekeeper-tray")
    app.setQuitOnLastWindowClosed(False)
    style = auto_style() if args.icon_style == "auto" else args.icon_style
    tray = TrayApp(endpoints, icons=IconSet(style), rescan=None if args.no_scan else find)
    app.setWindowIcon(tray.icons.icon(IconState.OK))
    signal.signal(signal.SIGINT, lambda *_: tray.quit())
    signal.signal(signal.SIGTERM, lambda *_: tray.quit())
    # Let Python run its signal handlers while Qt's loop is in C++.
    wakeup = QTimer(interval=250)
    wakeup.timeout.connect(lambda: None)
    wakeup.start()
    tray.start()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
