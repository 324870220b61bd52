"""Shared fixtures. Part-specific fixtures live beside their tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.nginx import nginx  # noqa: F401  (shared fixture)
from tests.helpers import CoreHarness


@pytest.fixture
def core(tmp_path: Path) -> Iterator[CoreHarness]:
    """A core supervising a demo node, cleaned up after the test whatever happens."""
    harness = CoreHarness(tmp_path)
    try:
        yield harness
    finally:
        harness.cleanup()
