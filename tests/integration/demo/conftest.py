"""Fixtures for the demo node tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.demo.support import DemoNodes


@pytest.fixture
def demo_nodes(tmp_path: Path) -> Iterator[DemoNodes]:
    nodes = DemoNodes(tmp_path)
    try:
        yield nodes
    finally:
        nodes.cleanup()
