"""`nodekeeper demo`, the README's first quick-start command, runs to the end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO


@pytest.mark.slow
def test_demo_runs_the_whole_story_and_exits_0(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nodekeeper.core", "demo", "--dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step in (
        "node v1.0.0 running",
        "ms after the kill",
        "unresponsive node replaced",
        "check: update -> 1.1.0",
        "node now runs v1.1.0",
        "rolled back to v1.1.0, 1.2.0 quarantined",
        "check again: none",
        "(a development build of this install) on the signed 'nodekeeper' channel",
        f"check --self: update -> {_next(1)}",
        f"the core replaced itself with {_next(1)}",
        f"core {_next(2)} rolled back to {_next(1)} and quarantined",
        "core exited with code 0",
        "demo complete",
    ):
        assert step in out, f"missing {step!r} in:\n{out}"
    assert "Traceback" not in result.stderr
    assert "CHANGED" not in out  # the node kept its pid through both core switches


def _next(step: int) -> str:
    """The core version the demo publishes ``step`` patch releases after this one."""
    from nodekeeper.core import __version__

    major, minor, patch = (int(part) for part in __version__.split(".")[:3])
    return f"{major}.{minor}.{patch + step}"
