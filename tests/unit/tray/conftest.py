"""Tray tests run on Qt's offscreen platform unless a display is given explicitly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.unit.tray.protocol_server import ProtocolServer


@pytest.fixture
def core_server(tmp_path: Path) -> Iterator[ProtocolServer]:
    server = ProtocolServer(tmp_path / "core.sock").start()
    try:
        yield server
    finally:
        server.stop()
