from __future__ import annotations

import os
import time
from pathlib import Path

from nodekeeper.core.logs.files import TotalBytes, total_bytes
from nodekeeper.core.logs.policy import archive_name

NOW = 1_795_000_000.0


def settle(directory: Path) -> None:
    """Date the directory's last change a minute back, as on a quiet node."""
    past = time.time() - 60
    os.utime(directory, (past, past))


def test_counts_like_a_full_scan_as_files_grow_appear_and_go(tmp_path: Path) -> None:
    (tmp_path / "node.log").write_bytes(b"a\n" * 10)
    (tmp_path / "nodekeeper-node.log").write_bytes(b"core\n")
    archive = tmp_path / (archive_name("node", NOW, []) + ".gz")
    archive.write_bytes(b"x" * 100)
    (tmp_path / "other.log").write_bytes(b"not ours\n")
    settle(tmp_path)
    count = TotalBytes(tmp_path, "node")
    assert count() == total_bytes(tmp_path, "node") == 20 + 5 + 100

    with open(tmp_path / "node.log", "ab") as f:  # growth moves no directory mtime
        f.write(b"b\n" * 5)
    with open(tmp_path / "nodekeeper-node.log", "ab") as f:
        f.write(b"more\n")
    assert count() == total_bytes(tmp_path, "node") == 30 + 10 + 100

    second = tmp_path / (archive_name("node", NOW + 1, [archive.name]) + ".gz.tmp")
    second.write_bytes(b"y" * 7)
    assert count() == total_bytes(tmp_path, "node") == 30 + 10 + 100 + 7

    archive.unlink()
    assert count() == total_bytes(tmp_path, "node") == 30 + 10 + 7


def test_missing_directory_counts_zero(tmp_path: Path) -> None:
    assert TotalBytes(tmp_path / "gone", "node")() == 0
