"""The tray app: `TrayApp` wires the icon, its menu and notifications for every core found.

A :class:`~nodekeeper.tray.connection.CoreConnection` per core feeds
:mod:`nodekeeper.tray.model`; the icon, tooltip and
:class:`~nodekeeper.tray.menu.TrayMenu` show the result;
:class:`~nodekeeper.tray.throttle.NotificationThrottle` decides which
notifications reach the desktop; menu items call the method the methods
table names for them, or open the dashboard or logs folder. It quits only
itself, never a core. Import it through :mod:`nodekeeper.tray.app`, which
checks for PySide6 first.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QCursor, QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from nodekeeper.core import __version__
from nodekeeper.core.ipc.methods import MenuAction, Method, menu_action
from nodekeeper.tray.connection import STATUS_POLL_MS, CoreConnection
from nodekeeper.tray.discovery import Endpoint
from nodekeeper.tray.icons import IconSet
from nodekeeper.tray.instance import (
    Connection,
    IconState,
    InstanceModel,
    overall_icon_state,
)
from nodekeeper.tray.menu import TrayMenu
from nodekeeper.tray.targets import openable_folder, openable_url
from nodekeeper.tray.throttle import UNREACHABLE, Notification, NotificationThrottle, slept
from nodekeeper.tray.wording import (
    check_result_text,
    notification_for_event,
    tooltip,
    unreachable_notification,
)

TRAY_CHECK_MS = 2000
TICK_MS = 1000
RESCAN_MS = 10000
MESSAGE_MS = 10000

Opener = Callable[[QUrl], Any]


class TrayApp(QObject):
    """Everything the tray does, on the Qt event loop; build it after the QApplication."""

    notified = Signal(object)  # a Notification that reached the desktop
    iconChanged = Signal(object)  # IconState

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        *,
        icons: IconSet | None = None,
        throttle: NotificationThrottle | None = None,
        clock: Callable[[], float] = time.monotonic,
        opener: Opener = QDesktopServices.openUrl,
        is_dir: Callable[[str], bool] = os.path.isdir,
        rescan: Callable[[], Sequence[Endpoint]] | None = None,
        max_reconnect_delay: float = 10.0,
        status_poll_ms: int = STATUS_POLL_MS,
    ) -> None:
        super().__init__()
        self.icons = icons or IconSet()
        self.throttle = throttle or NotificationThrottle()
        self.clock = clock
        self.opener = opener
        self.is_dir = is_dir
        self.refused: list[str] = []  # what _open would not hand to the shell, and why
        self._rescan = rescan
        self.max_reconnect_delay = max_reconnect_delay
        self.status_poll_ms = status_poll_ms
        self.models: dict[str, InstanceModel] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.connections: dict[str, CoreConnection] = {}
        self.menu = TrayMenu(self.icons.icon)
        self.menu.itemTriggered.connect(self._on_item)
        self.menu.about_action.triggered.connect(self.show_about)
        self.menu.quit_action.triggered.connect(self.quit)
        self.tray: QSystemTrayIcon | None = None
        self.tray_generation = 0
        self._tray_available = False
        self.icon_state = IconState.BUSY
        self.last_notification: Notification | None = None
        self.shown: list[Notification] = []
        self._about: QMessageBox | None = None
        self._walls = (time.time(), time.monotonic())
        self._tray_timer = QTimer(self, interval=TRAY_CHECK_MS)
        self._tray_timer.timeout.connect(self.ensure_tray)
        self._tick_timer = QTimer(self, interval=TICK_MS)
        self._tick_timer.timeout.connect(self.tick)
        self._rescan_timer = QTimer(self, interval=RESCAN_MS)
        self._rescan_timer.timeout.connect(self.rescan)
        for endpoint in endpoints:
            self._add(endpoint)

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        self.throttle.started(self.clock())
        for connection in self.connections.values():
            connection.start()
        self.ensure_tray()
        self._refresh()
        self._tray_timer.start()
        self._tick_timer.start()
        if self._rescan is not None:
            self._rescan_timer.start()

    def shutdown(self) -> None:
        for timer in (self._tray_timer, self._tick_timer, self._rescan_timer):
            timer.stop()
        for connection in self.connections.values():
            connection.stop()
        if self.tray is not None:
            self.tray.hide()

    def dispose(self) -> None:
        """Shut down and free the Qt objects now rather than at interpreter exit."""
        self.shutdown()
        for connection in self.connections.values():
            connection.deleteLater()
        self.connections.clear()
        if self.tray is not None:
            self.tray.deleteLater()
            self.tray = None
        self.menu.menu.deleteLater()
        self.menu.deleteLater()
        self.deleteLater()

    def quit(self) -> None:
        """Quit the tray only: cores and nodes keep running."""
        self.shutdown()
        QApplication.quit()

    def ensure_tray(self) -> None:
        """Create the icon when a tray host exists; recreate it when a host appears later.

        At login the panel often starts after the tray app; an icon created
        before the host existed is never shown, so it is rebuilt.
        """
        available = QSystemTrayIcon.isSystemTrayAvailable()
        if available and (self.tray is None or not self._tray_available):
            if self.tray is not None:
                self.tray.hide()
                self.tray.deleteLater()
            self.tray = QSystemTrayIcon(self.icons.icon(self.icon_state))
            self.tray.setContextMenu(self.menu.menu)
            self.tray.messageClicked.connect(self._on_message_clicked)
            self.tray.activated.connect(self._on_activated)
            self.tray.setToolTip(tooltip(list(self.models.values())))
            self.tray.show()
            self.tray_generation += 1
        self._tray_available = available

    def tick(self) -> None:
        now = self.clock()
        walls = (time.time(), time.monotonic())
        if slept(*self._walls, *walls):
            self.throttle.resumed(now)
        self._walls = walls
        for note in self.throttle.due(now):
            self._show(note)

    def rescan(self) -> None:
        if self._rescan is None:
            return
        added = [e for e in self._rescan() if e.socket not in self.endpoints]
        for endpoint in added:
            self._add(endpoint).start()
        if added:
            self._refresh()

    # -- model updates -------------------------------------------------------

    def _add(self, endpoint: Endpoint) -> CoreConnection:
        key = endpoint.socket
        self.endpoints[key] = endpoint
        self.models[key] = InstanceModel(
            key, endpoint.name, since=self.clock(), dashboard_url=endpoint.dashboard_url
        )
        connection = CoreConnection(
            key, self, max_delay=self.max_reconnect_delay, poll_ms=self.status_poll_ms
        )
        connection.helloReceived.connect(lambda hello, k=key: self._on_hello(k, hello))
        connection.statusReceived.connect(
            lambda status, k=key: self._update(k, self.models[k].with_status(status))
        )
        connection.eventReceived.connect(lambda kind, data, k=key: self._on_event(k, kind, data))
        connection.connectionLost.connect(lambda _reason, k=key: self._on_lost(k))
        connection.problem.connect(lambda text: print(f"nodekeeper-tray: {text}", file=sys.stderr))
        self.connections[key] = connection
        return connection

    def _update(self, key: str, model: InstanceModel) -> None:
        self.models[key] = model
        self._refresh()

    def _on_hello(self, key: str, hello: dict[str, Any]) -> None:
        self.throttle.withdraw(UNREACHABLE, key)
        self._update(key, self.models[key].connected(hello, self.clock()))

    def _on_lost(self, key: str) -> None:
        before = self.models[key]
        self._update(key, before.lost(self.clock()))
        if before.connection is not Connection.UNREACHABLE:
            self._offer(unreachable_notification(self.models[key]))

    def _on_event(self, key: str, kind: str, data: dict[str, Any]) -> None:
        model = self.models[key].with_event(kind, data)
        self._update(key, model)
        note = notification_for_event(model, kind, data)
        if note is not None:
            self._offer(note)

    def _refresh(self) -> None:
        models = list(self.models.values())
        self.menu.set_instances(models)
        state = overall_icon_state(models)
        if self.tray is not None:
            if state is not self.icon_state or self.tray.icon().isNull():
                self.tray.setIcon(self.icons.icon(state))
            self.tray.setToolTip(tooltip(models))
        if state is not self.icon_state:
            self.icon_state = state
            self.iconChanged.emit(state)

    # -- notifications -------------------------------------------------------

    def _offer(self, note: Notification) -> None:
        shown = self.throttle.offer(note, self.clock())
        if shown is not None:
            self._show(shown)

    def _show(self, note: Notification) -> None:
        self.last_notification = note
        self.shown.append(note)
        if self.tray is not None:
            icon = (
                QSystemTrayIcon.MessageIcon.Critical
                if note.kind in (UNREACHABLE, "update-failed", "crash-loop")
                else QSystemTrayIcon.MessageIcon.Information
            )
            self.tray.showMessage(note.title, note.text, icon, MESSAGE_MS)
        self.notified.emit(note)

    def _on_message_clicked(self) -> None:
        if self.last_notification is not None:
            self.open_notification(self.last_notification)

    def open_notification(self, note: Notification) -> None:
        """What clicking a notification does: open its logs folder or dashboard."""
        if note.instance in self.models and note.opens:
            self._open(note.instance, note.opens)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # A left click shows the menu too: people expect it from Tailscale and Nextcloud.
        if (
            reason == QSystemTrayIcon.ActivationReason.Trigger
            and self.tray is not None
            and sys.platform != "darwin"  # macOS opens the menu on any click itself
        ):
            self.menu.menu.popup(QCursor.pos())

    # -- menu actions --------------------------------------------------------

    def _on_item(self, key: str, item: str, checked: bool) -> None:
        found = menu_action(item)
        if found is not None:
            method, menu = found
            # A checkable item's new state is the method's required boolean parameter;
            # some items also name which part they act on (the core's own updates).
            params = {p.name: checked for p in method.params if p.kind is bool and p.required}
            params.update(menu.params)
            self.connections[key].request(
                method.name,
                params or None,
                lambda ok, res: self._after_request(key, method, menu, ok, res),
            )
        elif item in ("dashboard", "logs"):
            self._open(key, item)

    def _after_request(
        self, key: str, method: Method, menu: MenuAction, ok: bool, result: Any
    ) -> None:
        model = self.models[key]
        if not ok:
            failure = menu.failure
            self._offer(
                Notification("request-failed", f"{model.name}: {failure}", str(result), key)
            )
            self._refresh()  # puts the checkbox back to what the core says
            return
        self.connections[key].refresh_status()
        if method.name == "check_now":
            self._report_check(key, result)

    def _report_check(self, key: str, result: Any) -> None:
        model = self.models[key]
        text = check_result_text(result)
        self._offer(Notification("check", f"{model.name}: update check", text, key, "dashboard"))

    def _open(self, key: str, what: str) -> None:
        """Open the dashboard or logs folder, if it is something the shell may be given."""
        model = self.models[key]
        if what == "dashboard" and model.dashboard_url:
            refusal = openable_url(model.dashboard_url)
            target = QUrl(model.dashboard_url)
        elif what == "logs" and model.status is not None and model.status.logs_dir:
            refusal = openable_folder(model.status.logs_dir, self.is_dir)
            target = QUrl.fromLocalFile(model.status.logs_dir)
        else:
            return
        if refusal is not None:
            print(f"nodekeeper-tray: {model.name}: {refusal}", file=sys.stderr)
            self.refused.append(refusal)
            return
        self.opener(target)

    def show_about(self) -> None:
        if self._about is None:
            self._about = QMessageBox(
                QMessageBox.Icon.Information,
                "About nodekeeper",
                f"nodekeeper-tray {__version__}\n\nKeeps storage nodes running and up to date. "
                "Quitting the tray leaves every node and core running.",
            )
        self._about.show()
