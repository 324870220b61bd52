"""The tray on a real X display (Xvfb) with a real tray host (trayer).

The tray starts before the tray host (the login race), docks when the
host appears, follows the core live, changes the core's setting from its
menu, reports a dead core once and recovers when it comes back, and quits
without touching the core. Screenshots of the open menu and of a
notification go to test-artifacts/gui/ (and to docs/images/ when
NODEKEEPER_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QImage

from tests.gui.conftest import TrayDriver, XDisplay
from tests.helpers import REPO, CoreHarness, run_cli, wait_until

ARTIFACTS = REPO / "test-artifacts" / "gui"
DOC_IMAGES = REPO / "docs" / "images"
GRACE_S = 2.0


def nodekeeper(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=30)


def core_updates_enabled(socket: str) -> bool:
    result = nodekeeper("status", "--json", "--socket", socket)
    assert result.returncode == 0, result.stderr
    enabled: bool = json.loads(result.stdout)["updates"]["enabled"]
    return enabled


class RealCore:
    def __init__(self, harness: CoreHarness) -> None:
        self.harness = harness
        self.socket = str(harness.socket_path)

    def start(self) -> None:
        self.harness.start(wait_running=True)
        wait_until(lambda: os.path.exists(self.socket), 10, "the control socket")

    def kill(self) -> None:
        self.harness.kill_core()


def save_screenshot(display: XDisplay, name: str, geometry: tuple[int, int, int, int]) -> Path:
    path = display.screenshot(ARTIFACTS / name, geometry)
    if os.environ.get("NODEKEEPER_UPDATE_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOC_IMAGES / name)
    return path


def around(*rects: list[int], margin: int = 16) -> tuple[int, int, int, int]:
    x0 = max(0, min(r[0] for r in rects) - margin)
    y0 = 0
    x1 = min(640, max(r[0] + r[2] for r in rects) + margin)
    y1 = min(400, max(r[1] + r[3] for r in rects) + margin)
    return x0, y0, x1 - x0, y1 - y0


def visible_icon(display: XDisplay, driver: TrayDriver) -> str:
    """What the tray slot on screen shows: "ok" (green), "error" (red) or "other"."""
    x, y, w, h = driver.state()["tray_geometry"]
    if w < 16:
        return "undocked"  # not embedded yet, or the panel is still sizing the slot
    # Kept (overwritten) so a failure can be looked at.
    shot = display.screenshot(ARTIFACTS / "tray-slot-last.png", (x, y, w, h))
    image = QImage(str(shot))
    colours = [image.pixelColor(i, j) for i in range(image.width()) for j in range(image.height())]
    green = sum(1 for c in colours if c.green() > 130 and c.red() < 90 and c.blue() < 120)
    red = sum(1 for c in colours if c.red() > 170 and c.green() < 90 and c.blue() < 90)
    if green > len(colours) // 4 and red == 0:
        return "ok"
    if red > len(colours) // 4 and green == 0:
        return "error"
    return "other"


def updates_item(state: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = state["actions"]["updates"]
    return item


def run_acceptance(display: XDisplay, core: RealCore) -> None:
    core.start()
    driver = TrayDriver(display, core.socket, GRACE_S)
    try:
        # Login race: no tray host yet, so no icon; it appears when the host does.
        assert driver.state()["tray_exists"] is False
        display.start_tray_host()
        docked = driver.wait_for(
            "the icon to dock in trayer",
            lambda s: s["tray_visible"] and s["tray_geometry"][2] >= 16,
        )
        assert docked["tray_generation"] == 1
        state = driver.wait_for("status from the core", lambda s: s["icon"] == "ok")
        wait_until(
            lambda: visible_icon(display, driver) == "ok",
            3,
            "the ok icon on screen",
        )
        assert state["actions"]["status"]["text"].startswith("Node v1.2.3 — running, up ")
        assert updates_item(state)["enabled"]

        # The menu changes the core: make sure updates end up on, as the core reports.
        if not updates_item(state)["checked"]:
            driver.send("trigger", item="updates")
            wait_until(lambda: core_updates_enabled(core.socket), 5, "the core to turn updates on")
        driver.wait_for("the item checked", lambda s: updates_item(s)["checked"])
        driver.send("trigger", item="updates")
        wait_until(lambda: not core_updates_enabled(core.socket), 5, "the core to turn updates off")
        driver.wait_for("the item unchecked", lambda s: not updates_item(s)["checked"], timeout=2)

        # A change made elsewhere shows in the menu within one second.
        assert nodekeeper("updates", "on", "--socket", core.socket).returncode == 0
        driver.wait_for("the item checked", lambda s: updates_item(s)["checked"], timeout=3)

        opened = driver.send("popup")
        time.sleep(0.3)
        save_screenshot(
            display, "tray-menu.png", around(driver.state()["tray_geometry"], opened["menu"])
        )
        driver.send("close_menu")

        started = time.monotonic()
        result = nodekeeper("updates", "off", "--socket", core.socket)
        assert result.returncode == 0, result.stderr
        driver.wait_for("the item unchecked", lambda s: not updates_item(s)["checked"], timeout=1)
        print(
            f"menu followed `nodekeeper updates off` {time.monotonic() - started:.3f}s after the command started"
        )

        # The core dies: error icon, exactly one notification, no tray restart.
        time.sleep(max(0.0, GRACE_S - (time.monotonic() - started)))
        core.kill()
        driver.wait_for("the error icon", lambda s: s["icon"] == "error", timeout=5)
        wait_until(
            lambda: visible_icon(display, driver) == "error",
            3,
            "the error icon on screen",
        )
        state = driver.wait_for(
            "the notification", lambda s: any(n["kind"] == "unreachable" for n in s["shown"])
        )
        balloon = driver.wait_for(
            "the notification balloon",
            lambda s: any(p["class"] == "QBalloonTip" for p in s["popups"]),
            5,
        )
        tip = next(p["geometry"] for p in balloon["popups"] if p["class"] == "QBalloonTip")
        time.sleep(0.3)
        save_screenshot(
            display, "tray-notification.png", around(driver.state()["tray_geometry"], tip)
        )
        # Clicking the notification opens the logs folder.
        x, y, w, h = tip
        subprocess.run(
            ["xdotool", "mousemove", str(x + w // 2), str(y + h - 12), "click", "1"],
            env=display.env,
            check=True,
            timeout=10,
        )
        logs_url = Path(core.harness.root / "logs").as_uri()
        driver.wait_for("the logs folder to open", lambda s: s["opened"] == [logs_url], timeout=5)
        time.sleep(2.0)  # several reconnect attempts fail meanwhile
        state = driver.state()
        assert [n["kind"] for n in state["shown"]].count("unreachable") == 1
        assert state["actions"]["status"]["text"] == "Core not reachable — retrying"

        core.start()
        state = driver.wait_for("recovery", lambda s: s["icon"] == "ok", timeout=15)
        wait_until(
            lambda: visible_icon(display, driver) == "ok",
            3,
            "the ok icon on screen",
        )
        assert state["tray_generation"] == 1
        assert state["actions"]["updates"]["enabled"]

        # The panel restarts (crash, session change): the icon comes back by itself.
        display.stop_tray_host()
        driver.wait_for("the icon to be undocked", lambda s: s["tray_geometry"][2] == 0)
        time.sleep(2.5)  # longer than the tray's host check
        display.start_tray_host()
        driver.wait_for(
            "the icon to dock again", lambda s: s["tray_visible"] and s["tray_geometry"][2] >= 16
        )

        # Quit ends the tray only.
        driver.send("quit")
        assert driver.process.wait(10) == 0
        assert nodekeeper("status", "--json", "--socket", core.socket).returncode == 0
    finally:
        driver.close()


@pytest.mark.slow
def test_tray_follows_and_controls_a_real_core_under_xvfb(
    xdisplay: XDisplay, core: CoreHarness
) -> None:
    core.node["initial_version"] = "1.2.3"
    run_acceptance(xdisplay, RealCore(core))
