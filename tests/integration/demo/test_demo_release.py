"""A packaged demo release, extracted like an installer would, runs as a storage node."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from nodekeeper.core.demo.package import build_release_binary, build_release_zip
from tests.integration.demo.support import DemoNodes, clean_env, get_json


def extract_with_modes(archive: Path, folder: Path) -> list[Path]:
    """Unpack keeping the Unix mode bits recorded in the zip (zipfile drops them)."""
    paths = []
    with zipfile.ZipFile(archive) as zipped:
        for entry in zipped.infolist():
            path = Path(zipped.extract(entry, folder))
            path.chmod(stat.S_IMODE(entry.external_attr >> 16))
            paths.append(path)
    return paths


def test_extracted_release_is_one_executable_that_reports_its_version(tmp_path: Path) -> None:
    archive = build_release_zip("1.4.2", tmp_path / "release.zip")
    [binary] = extract_with_modes(archive, tmp_path / "unpacked")
    assert binary.name == "storagenode"
    assert os.access(binary, os.X_OK)
    result = subprocess.run(
        [str(binary), "version"], capture_output=True, text=True, env=clean_env(), timeout=20
    )
    assert result.returncode == 0
    assert "Version: v1.4.2" in result.stdout.splitlines()


def test_packaged_node_runs_and_serves_its_baked_in_version(
    demo_nodes: DemoNodes, tmp_path: Path
) -> None:
    [binary] = extract_with_modes(
        build_release_zip("1.9.0", tmp_path / "release.zip"), tmp_path / "unpacked"
    )
    node = demo_nodes.start("run", "--port", "0", executable=[str(binary)])
    assert get_json(node.port())["version"] == "1.9.0"
    node.signal(signal.SIGTERM)
    assert node.wait() == 0


def test_packaged_node_runs_without_site_packages(demo_nodes: DemoNodes, tmp_path: Path) -> None:
    binary = build_release_binary("2.2.0", tmp_path / "bin" / "storagenode")
    # -S: no site-packages, -I: no cwd or PYTHONPATH, so only the standard library is there.
    node = demo_nodes.start(
        "run", "--log-rate", "50", executable=[sys.executable, "-I", "-S", str(binary)]
    )
    assert get_json(node.port())["version"] == "2.2.0"
    node.signal(signal.SIGTERM)
    assert node.wait() == 0
    assert "shutting down" in node.stdout_lines()[-2]


def test_packaged_node_needs_nothing_outside_the_standard_library(tmp_path: Path) -> None:
    binary = build_release_binary("2.1.0", tmp_path / "bin" / "storagenode")
    # -S: no site-packages, -I: no cwd or PYTHONPATH, so nodekeeper is not importable.
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(binary), "version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    assert "Version: v2.1.0" in result.stdout.splitlines()


def test_bare_binary_is_executable_in_place(tmp_path: Path) -> None:
    binary = build_release_binary("3.0.1", tmp_path / "initial" / "storagenode")
    result = subprocess.run(
        [str(binary), "version"], capture_output=True, text=True, env=clean_env(), timeout=20
    )
    assert "Version: v3.0.1" in result.stdout.splitlines()
