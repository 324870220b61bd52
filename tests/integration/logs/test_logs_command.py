"""`nodekeeper logs`: print the tail, follow across rotations, one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nodekeeper.core.events import EventBus
from nodekeeper.core.logs.capture import LogCapture
from tests.helpers import REPO, run_cli, to_toml, wait_until
from tests.integration.logs.support import WriterProcess, family_files, settings


def write_config(tmp_path: Path, logs: Path) -> Path:
    config = tmp_path / "nodekeeper.toml"
    config.write_text(
        to_toml(
            {
                "instance": "node",
                "node": {"command": [sys.executable, "-c", "pass"]},
                "logs": {"dir": str(logs)},
                "paths": {"data_dir": str(tmp_path / "data"), "socket": str(tmp_path / "s.sock")},
            }
        )
    )
    return config


def nodekeeper(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args)


def fill(logs: Path, lines: int, max_file_size: int) -> None:
    capture = LogCapture(settings(logs, max_file_size=max_file_size), "node", EventBus())
    capture.start()
    try:
        out_w, err_w = capture.open_stdio()
        writer = WriterProcess(out_w, err_w)
        writer.lines(lines)
        assert writer.quit() == 0
        assert capture.wait_readers(10) and capture.flush(10)
        assert capture._compressor.wait_idle(30)
    finally:
        capture.close()


def test_prints_the_last_lines_reaching_into_compressed_archives(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    fill(logs, 1000, max_file_size=10_000)  # 100 lines per file
    assert len(family_files(logs, "node")) == 11  # 10 full archives + the new current file
    result = nodekeeper("logs", "--config", str(write_config(tmp_path, logs)), "-n", "150")
    assert result.returncode == 0, result.stderr
    numbers = [int(line[:12]) for line in result.stdout.splitlines()]
    assert numbers == list(range(850, 1000))


def test_follow_shows_every_new_line_once_across_rotations(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    fill(logs, 10, max_file_size=5_000)
    out_path = tmp_path / "followed.txt"
    with open(out_path, "wb") as out:
        follower = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nodekeeper.core",
                "logs",
                "--config",
                str(write_config(tmp_path, logs)),
                "-f",
                "-n",
                "2",
            ],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.PIPE,
        )
    try:
        wait_until(lambda: out_path.read_bytes().count(b"\n") >= 2, 20, "the tail")
        capture = LogCapture(settings(logs, max_file_size=5_000), "node", EventBus())
        capture.start()
        out_w, err_w = capture.open_stdio()
        writer = WriterProcess(out_w, err_w)
        for _ in range(20):
            writer.lines(25)  # half a file each time: many rotations while following
            time.sleep(0.05)
        assert writer.quit() == 0
        assert capture.wait_readers(10) and capture.flush(10)
        capture.close()
        wait_until(lambda: out_path.read_bytes().count(b"\n") >= 502, 20, "all lines followed")
        time.sleep(0.3)
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(10)
    numbers = [int(line[:12]) for line in out_path.read_bytes().splitlines()]
    assert numbers == [8, 9, *range(500)]


def test_bad_arguments_and_missing_logs_are_one_line_errors(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "nowhere")
    result = nodekeeper("logs", "--config", str(config), "-n", "ten")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "'ten' is not a whole number" in result.stderr
    result = nodekeeper("logs", "--config", str(config))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "nowhere does not exist" in result.stderr
    result = nodekeeper("logs", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert os.path.basename("missing.toml") in result.stderr
