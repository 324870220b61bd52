"""The tray menu: per-instance items kept in place and updated live.

Actions are created once per instance and only their text, check state and
enabled state change afterwards, so an open menu never flickers or loses
the item under the mouse. With one instance the items are flat; with
several each instance gets a submenu. About and Quit come last; Quit ends
the tray only, never a core or a node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu

from nodekeeper.tray.instance import IconState, InstanceModel, icon_state
from nodekeeper.tray.wording import MenuItem, instance_items, status_line


class TrayMenu(QObject):
    """Owns the QMenu; emits ``itemTriggered(instance_key, item_key, checked)``."""

    itemTriggered = Signal(str, str, bool)

    def __init__(self, icon_for: Callable[[IconState], QIcon] | None = None) -> None:
        super().__init__()
        self.menu = QMenu()
        self._icon_for = icon_for
        self._layout: tuple[tuple[str, ...], ...] | None = None
        self._actions: dict[tuple[str, str], QAction] = {}
        self._submenus: dict[str, QMenu] = {}
        # Parented to this object, not the menu: QMenu.clear() deletes the actions it owns.
        self.about_action = QAction("About nodekeeper", self)
        self.about_action.setObjectName("about")
        self.quit_action = QAction("Quit tray", self)
        self.quit_action.setObjectName("quit")
        self.quit_action.setToolTip("Closes the tray icon only; the node keeps running")
        self.empty_action = QAction("No nodekeeper core found", self)
        self.empty_action.setEnabled(False)
        self.menu.setToolTipsVisible(True)

    def action(self, instance_key: str, item_key: str) -> QAction:
        return self._actions[(instance_key, item_key)]

    def submenu(self, instance_key: str) -> QMenu | None:
        return self._submenus.get(instance_key)

    def set_instances(self, models: Sequence[InstanceModel]) -> None:
        # The items of an instance change too: a core with self-update adds two.
        layout = tuple((m.key, *(i.key for i in instance_items(m))) for m in models)
        if layout != self._layout:
            self._rebuild(models)
            self._layout = layout
        for model in models:
            self._apply(model)

    def _rebuild(self, models: Sequence[InstanceModel]) -> None:
        self.menu.clear()
        for action in self._actions.values():
            action.deleteLater()
        for submenu in self._submenus.values():
            submenu.deleteLater()
        self._actions.clear()
        self._submenus.clear()
        if not models:
            self.menu.addAction(self.empty_action)
        for model in models:
            target = self.menu
            if len(models) > 1:
                target = QMenu(model.name)
                target.setToolTipsVisible(True)
                self.menu.addMenu(target)
                self._submenus[model.key] = target
            for item in instance_items(model):
                action = QAction(item.text, self)
                action.setObjectName(f"{item.key}:{model.key}")
                action.setCheckable(item.checkable)
                action.triggered.connect(self._emitter(model.key, item.key))
                target.addAction(action)
                self._actions[(model.key, item.key)] = action
                if item.key == "status":
                    target.addSeparator()
        self.menu.addSeparator()
        self.menu.addAction(self.about_action)
        self.menu.addAction(self.quit_action)

    def _emitter(self, instance_key: str, item_key: str) -> Callable[[bool], None]:
        def emit(checked: bool = False) -> None:
            self.itemTriggered.emit(instance_key, item_key, bool(checked))

        return emit

    def _apply(self, model: InstanceModel) -> None:
        for item in instance_items(model):
            _apply_item(self._actions[(model.key, item.key)], item)
        submenu = self._submenus.get(model.key)
        if submenu is not None:
            submenu.setTitle(f"{model.name} — {status_line(model)}")
            if self._icon_for is not None:
                submenu.setIcon(self._icon_for(icon_state(model)))


def _apply_item(action: QAction, item: MenuItem) -> None:
    if action.text() != item.text:
        action.setText(item.text)
    action.setEnabled(item.enabled)
    action.setToolTip(item.tooltip or item.text)
    if item.checkable and action.isChecked() != item.checked:
        # Setting the state programmatically must not look like a user click.
        blocked = action.blockSignals(True)
        action.setChecked(item.checked)
        action.blockSignals(blocked)
