"""The install store: versions appear only complete, by rename."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.update.smoke import (
    SmokeTestFailed,
    parse_version_output,
    read_version,
    smoke_test,
)
from nodekeeper.core.update.store import VersionStore


def executable(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_installed_lists_only_complete_versions(tmp_path: Path) -> None:
    store = VersionStore(tmp_path, "storagenode")
    source = executable(tmp_path / "bin", "echo 'Version: v1.0.0'\n")
    store.install_file("1.0.0", source)
    staging = store.staging_dir("1.1.0")
    (staging / "storagenode").write_text("partial")
    assert store.installed() == ["1.0.0"]
    assert store.has("1.0.0") and not store.has("1.1.0")
    assert os.stat(store.binary_path("1.0.0")).st_mode & stat.S_IXUSR


def test_incomplete_installs_are_removed_on_start(tmp_path: Path) -> None:
    store = VersionStore(tmp_path, "storagenode")
    store.staging_dir("2.0.0")
    assert store.remove_incomplete() == ["2.0.0.tmp"]
    assert not (store.root / "2.0.0.tmp").exists()


def test_commit_without_binary_fails_clearly(tmp_path: Path) -> None:
    store = VersionStore(tmp_path, "storagenode")
    store.staging_dir("1.2.0")
    with pytest.raises(OperationFailed, match="missing after unpacking"):
        store.commit_staging("1.2.0")
    assert store.installed() == []


@pytest.mark.parametrize(
    ("output", "version"),
    [
        (b"Release build\nVersion: v1.2.3\nBuild timestamp: x\n", "1.2.3"),
        (b"Version: 1.90.0-rc.1\n", "1.90.0-rc.1"),
        (b"nothing useful\n", None),
    ],
)
def test_version_output_parsing(output: bytes, version: str | None) -> None:
    assert parse_version_output(output) == version


def test_smoke_test_runs_the_binary(tmp_path: Path) -> None:
    good = executable(tmp_path / "good", "echo 'Version: v1.4.0'\n")
    assert read_version(good) == "1.4.0"
    smoke_test(good, "1.4.0")
    with pytest.raises(SmokeTestFailed, match=r"reports version 1\.4\.0, expected 1\.5\.0"):
        smoke_test(good, "1.5.0")


def test_smoke_test_failures_are_one_line(tmp_path: Path) -> None:
    hangs = executable(tmp_path / "hangs", "sleep 30\n")
    with pytest.raises(SmokeTestFailed, match=r"no answer within 0\.5s"):
        read_version(hangs, timeout=0.5)
    crashes = executable(tmp_path / "crashes", "echo boom >&2; exit 3\n")
    with pytest.raises(SmokeTestFailed, match="exit code 3"):
        read_version(crashes)
    with pytest.raises(SmokeTestFailed, match="cannot run it"):
        read_version(tmp_path / "missing")
