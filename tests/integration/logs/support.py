"""Helpers for the log tests: settings, a controllable writer process, reading logs back."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nodekeeper.core.config import LogsConfig
from nodekeeper.core.events import Event, EventBus
from nodekeeper.core.logs.files import archives_oldest_first, current_path

WRITER = Path(__file__).with_name("numbered_writer.py")
MiB = 1024 * 1024
NUMBERED = re.compile(rb"^(\d{12}) x*$")
MARKER = re.compile(rb"^\S+ nodekeeper: (\d+) lines dropped: (.+)$")


def settings(directory: Path, **overrides: Any) -> LogsConfig:
    return LogsConfig(dir=directory, **overrides)


class Recorder:
    """Collects published events."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe(self.events.append)

    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


def family_files(directory: Path, prefix: str) -> list[Path]:
    """Archives oldest first, then the current file."""
    found = archives_oldest_first(directory, prefix)
    current = current_path(directory, prefix)
    return found + ([current] if current.exists() else [])


def read_file(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read()
    return path.read_bytes()


def iter_file_bytes(directory: Path, prefix: str) -> Iterator[tuple[Path, bytes]]:
    for path in family_files(directory, prefix):
        yield path, read_file(path)


def all_lines(directory: Path, prefix: str) -> list[bytes]:
    lines: list[bytes] = []
    for _path, data in iter_file_bytes(directory, prefix):
        assert data == b"" or data.endswith(b"\n"), f"{_path.name} ends inside a line"
        lines += data.split(b"\n")[:-1]
    return lines


def split_numbered(lines: list[bytes]) -> tuple[list[int], list[tuple[int, str]], list[bytes]]:
    """(numbers of numbered lines, (count, reason) of markers, anything else)."""
    numbers: list[int] = []
    markers: list[tuple[int, str]] = []
    other: list[bytes] = []
    for line in lines:
        m = NUMBERED.match(line)
        if m:
            numbers.append(int(m.group(1)))
            continue
        m = MARKER.match(line)
        if m:
            markers.append((int(m.group(1)), m.group(2).decode()))
            continue
        other.append(line)
    return numbers, markers, other


class WriterProcess:
    """numbered_writer.py in command mode, its stdout/stderr on the capture's pipes."""

    def __init__(self, stdout_fd: int, stderr_fd: int, line_size: int = 100) -> None:
        ack_r, ack_w = os.pipe()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(WRITER),
                "--commands",
                "--ack-fd",
                str(ack_w),
                "--line-size",
                str(line_size),
            ],
            stdin=subprocess.PIPE,
            stdout=stdout_fd,
            stderr=stderr_fd,
            pass_fds=(ack_w,),
        )
        os.close(ack_w)
        os.close(stdout_fd)
        os.close(stderr_fd)
        self._ack = os.fdopen(ack_r, "rb")

    def command(self, text: str, timeout: float = 60) -> dict[str, object]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()
        line = self._ack.readline()
        if not line:
            raise AssertionError(f"writer died (exit {self.proc.wait(timeout)})")
        result: dict[str, object] = json.loads(line)
        return result

    def lines(self, count: int) -> dict[str, object]:
        return self.command(f"lines {count}")

    def quit(self, timeout: float = 30) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"quit\n")
        self.proc.stdin.close()
        self._ack.close()
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._ack.close()


def mount_tmpfs(directory: Path, size: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        check=True,
        capture_output=True,
    )


def unmount(directory: Path) -> None:
    subprocess.run(["umount", "-l", str(directory)], check=False, capture_output=True)


def can_mount(scratch: Path) -> str | None:
    """None if this process may mount a tmpfs, else why not."""
    if os.geteuid() != 0:
        return "mounting a filesystem needs root"
    probe = scratch / "mount-probe"
    probe.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return f"mount not permitted here: {result.stderr.strip()}"
    unmount(probe)
    return None
