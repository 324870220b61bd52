"""Shared fixtures. Part-specific fixtures live beside their tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.fixtures.nginx import nginx  # noqa: F401  (shared fixture)
from tests.helpers import CoreHarness

# Shared 2-core machines stall for seconds at a time: hypothesis judges the
# code by its examples, never by how long the machine took to run them.
settings.register_profile("nodekeeper", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("nodekeeper")


@pytest.fixture
def core(tmp_path: Path) -> Iterator[CoreHarness]:
    """A core supervising a demo node, cleaned up after the test whatever happens."""
    harness = CoreHarness(tmp_path)
    try:
        yield harness
    finally:
        harness.cleanup()
