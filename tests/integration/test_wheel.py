"""The built wheel installs one top-level import package, `nodekeeper`, and every part of it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import REPO


def build_wheel(out: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [wheel] = out.glob("nodekeeper-*.whl")
    return wheel


def source_packages(part: str) -> set[str]:
    return {
        "nodekeeper." + ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / part).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


def test_the_wheel_holds_only_the_nodekeeper_import_package(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert archive.read(top_level).decode().split() == ["nodekeeper"]
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    importable = {
        n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))
    }
    assert importable == {"nodekeeper"}
    # nodekeeper is a namespace: only its two parts have an __init__.py.
    assert "nodekeeper/__init__.py" not in names
    packages = {
        n.removesuffix("/__init__.py").replace("/", ".")
        for n in names
        if n.endswith("/__init__.py")
    }
    assert packages == source_packages("core") | source_packages("tray")
    assert "nodekeeper/core/demo/node.py" in names
    assert "nodekeeper = nodekeeper.core.cli:main" in entry_points
    assert "nodekeeper-tray = nodekeeper.tray.app:main" in entry_points
