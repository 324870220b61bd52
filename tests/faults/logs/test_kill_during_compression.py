"""kill -9 of the process running the capture while it compresses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nodekeeper.core.events import EventBus
from nodekeeper.core.logs.capture import LogCapture
from tests.integration.logs.support import NUMBERED, MiB, family_files, read_file, settings

REPO = Path(__file__).resolve().parents[3]


def compressing(path: Path) -> bool:
    """A .gz.tmp that already holds compressed data (not just opened)."""
    try:
        return path.name.endswith(".gz.tmp") and path.stat().st_size > 0
    except FileNotFoundError:
        return False


def test_restart_after_kill_during_compression_leaves_only_valid_archives(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    host = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.logs.capture_host",
            "--dir",
            str(logs),
            "--bytes",
            str(600 * MiB),
            "--max-file-size",
            str(32 * MiB),
            "--wait-compression",  # keeps compressing after the writer is done
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    caught = False
    try:
        while time.monotonic() < deadline and host.poll() is None:
            if logs.is_dir() and any(compressing(p) for p in logs.iterdir()):
                caught = True
                break
            time.sleep(0.002)
    finally:
        if host.poll() is None:
            os.kill(host.pid, signal.SIGKILL)
        host.wait(10)
    assert caught, "no compression was seen in progress"
    assert any(p.name.endswith(".gz.tmp") for p in logs.iterdir())

    capture = LogCapture(settings(logs, max_file_size=32 * MiB), "node", EventBus())
    capture.start()
    try:
        assert capture._compressor.wait_idle(120)
    finally:
        capture.close()

    names = sorted(p.name for p in logs.iterdir())
    assert not [n for n in names if n.endswith(".tmp")]
    archives = [logs / n for n in names if n.endswith(".gz")]
    assert archives and not [n for n in names if n.endswith(".log") and n != "node.log"]
    subprocess.run(["gzip", "-t", *map(str, archives)], check=True)
    # What survived is an unbroken run of whole lines from the start.
    lines: list[bytes] = []
    for path in family_files(logs, "node"):
        data = read_file(path)
        assert data == b"" or data.endswith(b"\n")
        lines += data.split(b"\n")[:-1]
    if lines and not NUMBERED.match(lines[-1]):
        lines.pop()  # the kill may cut the very last write; restart closed that line off
    numbers = [int(line[:12]) for line in lines]
    assert all(NUMBERED.match(line) for line in lines)
    assert numbers == list(range(len(numbers)))
