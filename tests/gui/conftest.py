"""An X display with a tray host, and the tray app under test driven over a pipe."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO

SCREEN = "640x400x24"


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class XDisplay:
    """Xvfb on a display number it picks itself (-displayfd), plus an optional tray host."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", SCREEN, "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            _stop(self.xvfb)
            raise RuntimeError("Xvfb did not report a display number")
        self.name = f":{number}"
        self.trayer: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
        }
        env.update(DISPLAY=self.name, QT_QPA_PLATFORM="xcb", XDG_CURRENT_DESKTOP="X-Generic")
        return env

    def start_tray_host(self) -> None:
        self.trayer = subprocess.Popen(
            [
                "trayer",
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "request",
                "--height",
                "28",
                "--SetDockType",
                "true",
                "--transparent",
                "false",
                "--tint",
                "0x2b2b2b",
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop_tray_host(self) -> None:
        if self.trayer is not None:
            _stop(self.trayer)
            self.trayer = None

    def screenshot(self, path: Path, geometry: tuple[int, int, int, int] | None = None) -> Path:
        command = ["import", "-display", self.name, "-window", "root"]
        if geometry is not None:
            x, y, w, h = geometry
            command += ["-crop", f"{w}x{h}+{x}+{y}", "+repage"]
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([*command, "-strip", str(path)], check=True, timeout=30)
        return path

    def close(self) -> None:
        if self.trayer is not None:
            _stop(self.trayer)
        _stop(self.xvfb)


class TrayDriver:
    """The tray app in its own process on the X display; ``send`` a command, get the answer."""

    def __init__(self, display: XDisplay, socket: str, grace: float) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.gui.tray_driver",
                "--socket",
                socket,
                "--grace",
                str(grace),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=display.env,
            cwd=REPO,
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        self.stderr = b""
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()
        assert self._read(20) == {"ready": True}

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(b"")

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr += line

    def _read(self, timeout: float) -> Any:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"tray did not answer in {timeout}s; stderr: {self.stderr[-2000:]!r}"
            ) from None
        if not line:
            raise AssertionError(f"tray exited; stderr: {self.stderr[-2000:]!r}")
        return json.loads(line)

    def send(self, cmd: str, **args: Any) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
        self.process.stdin.flush()
        return self._read(10)

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self.send("state")
        return result

    def wait_for(self, what: str, predicate: Any, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; last state: {state}"
                )
            time.sleep(0.05)

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        _stop(self.process)


@pytest.fixture
def xdisplay() -> Iterator[XDisplay]:
    display = XDisplay()
    try:
        yield display
    finally:
        display.close()
