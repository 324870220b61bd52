"""Runs the real tray app on an X display and lets a test drive it over stdin/stdout.

    python -m tests.gui.tray_driver --socket PATH [--grace SECONDS]

Each line on stdin is a JSON command, each answer one JSON line on stdout:
``state`` (icon state, tray geometry, menu items, notifications shown),
``trigger`` an item's QAction, ``popup`` / ``close_menu`` the context menu,
``quit`` (the menu's Quit action). The tray itself is the production
:class:`nodekeeper.tray.app.TrayApp`; only the command channel is test code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from PySide6.QtCore import QRect, QSocketNotifier, Qt, QUrl
from PySide6.QtWidgets import QApplication, QWidget

from nodekeeper.tray.app import TrayApp
from nodekeeper.tray.discovery import Endpoint
from nodekeeper.tray.icons import IconSet
from nodekeeper.tray.throttle import NotificationThrottle


def rect(r: QRect) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


class Driver:
    def __init__(self, tray: TrayApp, key: str, opened: list[QUrl]) -> None:
        self.tray = tray
        self.opened = opened
        self.key = key
        self.pending = b""
        self.notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
        self.notifier.activated.connect(self.read)

    def read(self) -> None:
        data = os.read(sys.stdin.fileno(), 65536)
        if not data:
            self.tray.quit()
            return
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            if line.strip():
                answer = self.handle(json.loads(line))
                sys.stdout.write(json.dumps(answer) + "\n")
                sys.stdout.flush()

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        cmd = command["cmd"]
        menu = self.tray.menu.menu
        if cmd == "state":
            return self.state()
        if cmd == "trigger":
            self.tray.menu.action(self.key, command["item"]).trigger()
            return {"ok": True}
        if cmd == "popup":
            assert self.tray.tray is not None
            geometry = self.tray.tray.geometry()
            menu.popup(geometry.bottomLeft())
            QApplication.processEvents()
            return {"ok": True, "menu": rect(menu.geometry())}
        if cmd == "close_menu":
            menu.hide()
            return {"ok": True}
        if cmd == "quit":
            self.tray.menu.quit_action.trigger()
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    def state(self) -> dict[str, Any]:
        tray = self.tray
        actions = {}
        for item in ("status", "updates", "check", "restart", "dashboard", "logs"):
            action = tray.menu.action(self.key, item)
            actions[item] = {
                "text": action.text(),
                "checked": action.isChecked(),
                "enabled": action.isEnabled(),
            }
        popups = [
            {"class": w.metaObject().className(), "geometry": rect(w.geometry())}
            for w in QApplication.topLevelWidgets()
            if w.isVisible() and w.metaObject().className() != "QWidget"
        ]
        return {
            "icon": tray.icon_state.value,
            "tray_exists": tray.tray is not None,
            "tray_visible": tray.tray is not None and tray.tray.isVisible(),
            "tray_geometry": rect(tray.tray.geometry()) if tray.tray is not None else None,
            "tray_generation": tray.tray_generation,
            "tooltip": tray.tray.toolTip() if tray.tray is not None else "",
            "actions": actions,
            "shown": [{"kind": n.kind, "title": n.title, "text": n.text} for n in tray.shown],
            "popups": popups,
            "opened": [url.toString() for url in self.opened],
        }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--grace", type=float, default=15.0)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    app.setQuitOnLastWindowClosed(False)
    # A plain desktop behind the panel, so screenshots look like a desktop, not a void.
    wallpaper = QWidget(
        None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnBottomHint
    )
    wallpaper.setStyleSheet("background: #3d5a73;")
    wallpaper.setGeometry(app.primaryScreen().geometry())
    wallpaper.show()
    # Opening a folder or browser on the test display would do nothing useful: record it.
    opened: list[QUrl] = []
    tray = TrayApp(
        [Endpoint(args.socket, "node")],
        icons=IconSet("color"),
        throttle=NotificationThrottle(grace_s=args.grace),
        opener=opened.append,
        max_reconnect_delay=0.5,
        status_poll_ms=1000,
    )
    driver = Driver(tray, args.socket, opened)
    tray.start()
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    code = app.exec()
    tray.dispose()
    del driver
    return code


if __name__ == "__main__":
    sys.exit(main())
