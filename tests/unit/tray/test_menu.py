from __future__ import annotations

from pytestqt.qtbot import QtBot

from nodekeeper.tray.menu import TrayMenu
from nodekeeper.tray.model import InstanceModel, parse_status
from tests.unit.tray.protocol_server import sample_status


def connected(key: str, name: str, can_control: bool = True, enabled: bool = True) -> InstanceModel:
    status = sample_status(instance=name)
    status["updates"]["enabled"] = enabled
    m = InstanceModel(key, name, dashboard_url="http://127.0.0.1:14002/")
    return m.connected({"instance": name, "can_control": can_control}, 0).with_status(
        parse_status(status)
    )


def texts(menu: TrayMenu) -> list[str]:
    return [a.text() for a in menu.menu.actions() if not a.isSeparator()]


def test_single_instance_menu_is_flat(qtbot: QtBot) -> None:
    menu = TrayMenu()
    menu.set_instances([connected("/a.sock", "storagenode")])
    assert texts(menu) == [
        "Node v1.2.3 — running, up 3 d",
        "Automatic updates",
        "Check for updates now",
        "Restart node",
        "Open dashboard",
        "Open logs folder",
        "About nodekeeper",
        "Quit tray",
    ]
    status = menu.action("/a.sock", "status")
    assert not status.isEnabled()
    updates = menu.action("/a.sock", "updates")
    assert updates.isCheckable() and updates.isChecked() and updates.isEnabled()


def test_several_instances_get_one_submenu_each(qtbot: QtBot) -> None:
    menu = TrayMenu()
    menu.set_instances([connected("/a.sock", "alpha"), connected("/b.sock", "beta").lost(1)])
    assert texts(menu) == [
        "alpha — Node v1.2.3 — running, up 3 d",
        "beta — Core not reachable — retrying",
        "About nodekeeper",
        "Quit tray",
    ]
    beta = menu.submenu("/b.sock")
    assert beta is not None
    assert not menu.action("/b.sock", "updates").isEnabled()


def test_state_changes_update_actions_in_place(qtbot: QtBot) -> None:
    menu = TrayMenu()
    menu.set_instances([connected("/a.sock", "n")])
    before = menu.action("/a.sock", "updates")
    menu.set_instances([connected("/a.sock", "n", enabled=False)])
    assert menu.action("/a.sock", "updates") is before
    assert not before.isChecked()


def test_programmatic_check_change_is_not_reported_as_a_click(qtbot: QtBot) -> None:
    menu = TrayMenu()
    clicks: list[tuple[str, str, bool]] = []
    menu.itemTriggered.connect(lambda *args: clicks.append(args))
    menu.set_instances([connected("/a.sock", "n")])
    menu.set_instances([connected("/a.sock", "n", enabled=False)])
    assert clicks == []
    menu.action("/a.sock", "updates").trigger()
    assert clicks == [("/a.sock", "updates", True)]


def test_read_only_instance_explains_why_updates_cannot_be_changed(qtbot: QtBot) -> None:
    menu = TrayMenu()
    menu.set_instances([connected("/a.sock", "n", can_control=False)])
    updates = menu.action("/a.sock", "updates")
    assert not updates.isEnabled()
    assert updates.text() == "Automatic updates (read-only)"
    assert "group 'nodekeeper'" in updates.toolTip()


def test_no_core_found_says_so(qtbot: QtBot) -> None:
    menu = TrayMenu()
    menu.set_instances([])
    assert texts(menu) == ["No nodekeeper core found", "About nodekeeper", "Quit tray"]


def test_instances_coming_and_going_rebuild_the_menu_without_losing_quit(qtbot: QtBot) -> None:
    menu = TrayMenu()
    menu.set_instances([])
    menu.set_instances([connected("/a.sock", "a"), connected("/b.sock", "b")])
    menu.set_instances([connected("/a.sock", "a")])
    menu.set_instances([])
    assert texts(menu) == ["No nodekeeper core found", "About nodekeeper", "Quit tray"]
    assert menu.quit_action.isEnabled()


def test_every_menu_item_of_the_methods_table_is_a_control_item() -> None:
    from nodekeeper.core.ipc.methods import METHODS
    from nodekeeper.tray.model import instance_items

    calls = {m.menu.item for m in METHODS.values() if m.menu is not None}
    control = connected("/a.sock", "n")
    read_only = connected("/a.sock", "n", can_control=False)
    assert calls <= {item.key for item in instance_items(control)}
    assert all(item.enabled for item in instance_items(control) if item.key in calls)
    assert not any(item.enabled for item in instance_items(read_only) if item.key in calls)
