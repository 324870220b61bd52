"""The disk fills up, turns read-only or stalls: the node never blocks, drops are exact."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodekeeper.core.events import EventBus
from nodekeeper.core.logs.capture import LogCapture
from tests.helpers import wait_until
from tests.integration.logs.support import (
    MiB,
    Recorder,
    WriterProcess,
    all_lines,
    can_mount,
    mount_tmpfs,
    settings,
    split_numbered,
    unmount,
)

pytestmark = pytest.mark.root


@pytest.fixture
def mountable(tmp_path: Path) -> None:
    reason = can_mount(tmp_path)
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    mounted: list[Path] = []
    yield mounted
    for path in reversed(mounted):
        unmount(path)


def fill_disk(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (MiB, 4096, 1):
            block = b"\0" * size
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)


def check_exact_accounting(
    logs: Path, written: int, capture: LogCapture, rec: Recorder
) -> list[tuple[int, str]]:
    numbers, markers, other = split_numbered(all_lines(logs, "node"))
    assert other == []
    assert numbers == sorted(set(numbers)), "a line appears twice or out of order"
    dropped = sum(count for count, _ in markers)
    assert dropped > 0
    assert dropped == written - len(numbers)
    assert capture.status()["dropped_lines"] == dropped
    events = rec.kinds("logs-dropped")
    assert sum(int(e.data["lines"]) for e in events) == dropped
    assert len(events) == len(markers)
    return markers


@pytest.mark.usefixtures("mountable")
def test_disk_full_drops_lines_counts_them_and_marks_the_gap(
    tmp_path: Path, mounts: list[Path]
) -> None:
    logs = tmp_path / "logs"
    mount_tmpfs(logs, "20m")
    mounts.append(logs)
    bus = EventBus()
    rec = Recorder(bus)
    capture = LogCapture(settings(logs, max_file_size=4 * MiB), "node", bus)
    capture.start()
    try:
        out_w, err_w = capture.open_stdio()
        writer = WriterProcess(out_w, err_w)
        writer.lines(50_000)
        assert capture.flush(10)
        fill_disk(logs / "filler")
        started = time.monotonic()
        writer.lines(100_000)  # 10 MB into a full disk: must not block the writer
        blocked_for = time.monotonic() - started
        wait_until(lambda: int(capture.status()["dropped_lines"]) > 0, 10, "lines dropped")
        assert capture.flush(10)
        assert rec.kinds("logs-dropped") == []  # reported once, when the episode ends
        assert [e.data["reason"] for e in rec.kinds("disk-low")] == ["disk full"]
        (logs / "filler").unlink()
        time.sleep(0.2)  # past the retry interval
        report = writer.lines(50_000)
        assert writer.quit() == 0
        assert capture.wait_readers(10) and capture.flush(10)
    finally:
        capture.close()
    markers = check_exact_accounting(logs, int(report["lines"]), capture, rec)
    assert {reason for _, reason in markers} == {"disk full"}
    print(
        f"\ndisk full: {markers}, 10 MB sent in {blocked_for:.2f} s, "
        f"write max {report['max_ms']:.1f} ms"
    )


def ext4_image(tmp_path: Path, mounts: list[Path]) -> tuple[Path, str]:
    image = tmp_path / "ext4.img"
    with open(image, "wb") as f:
        f.truncate(256 * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    result = subprocess.run(
        ["mount", "-o", "loop,errors=remount-ro", str(image), str(logs)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a loop device here: {result.stderr.strip()}")
    mounts.append(logs)
    device = subprocess.run(
        ["findmnt", "-n", "-o", "SOURCE", str(logs)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return logs, os.path.basename(device)


@pytest.mark.usefixtures("mountable")
def test_read_only_filesystem_drops_lines_until_writable_again(
    tmp_path: Path, mounts: list[Path]
) -> None:
    logs, device = ext4_image(tmp_path, mounts)
    trigger = Path(f"/sys/fs/ext4/{device}/trigger_fs_error")
    if not trigger.exists():
        pytest.skip("this kernel cannot turn ext4 read-only on demand (no trigger_fs_error)")
    bus = EventBus()
    rec = Recorder(bus)
    capture = LogCapture(settings(logs, max_file_size=64 * MiB, compress=False), "node", bus)
    capture.start()
    try:
        out_w, err_w = capture.open_stdio()
        writer = WriterProcess(out_w, err_w)
        writer.lines(20_000)
        # The writer's ack means the lines are in the pipe; wait until they are in the file.
        wait_until(
            lambda: (logs / "node.log").read_bytes().count(b"\n") == 20_000, 10, "phase one on disk"
        )
        before = 20_000
        trigger.write_text("nodekeeper test\n")  # ext4 remounts itself read-only
        writer.lines(30_000)
        wait_until(lambda: int(capture.status()["dropped_lines"]) > 0, 10, "lines dropped")
        # The operator repairs the disk: a writable filesystem is mounted there again.
        unmount(logs)
        mount_tmpfs(logs, "64m")
        time.sleep(0.2)
        report = writer.lines(20_000)
        assert writer.quit() == 0
        assert capture.wait_readers(10) and capture.flush(10)
    finally:
        capture.close()
    numbers, markers, other = split_numbered(all_lines(logs, "node"))
    assert other == []
    assert [reason for _, reason in markers] == ["read-only filesystem"]
    assert numbers == sorted(set(numbers))
    assert markers[0][0] == int(report["lines"]) - before - len(numbers)
    assert capture.status()["dropped_lines"] == markers[0][0]
    assert [e.data["lines"] for e in rec.kinds("logs-dropped")] == [markers[0][0]]


@pytest.mark.usefixtures("mountable")
def test_stalled_disk_never_blocks_the_node_and_overflow_is_counted(
    tmp_path: Path, mounts: list[Path]
) -> None:
    logs, _device = ext4_image(tmp_path, mounts)
    bus = EventBus()
    rec = Recorder(bus)
    capture = LogCapture(settings(logs, max_file_size=512 * MiB, compress=False), "node", bus)
    capture.start()
    frozen = False
    try:
        out_w, err_w = capture.open_stdio()
        writer = WriterProcess(out_w, err_w)
        writer.lines(10_000)
        assert capture.flush(10)
        subprocess.run(["fsfreeze", "-f", str(logs)], check=True)
        frozen = True
        report = writer.lines(1_000_000)  # 100 MB while every disk write hangs
        assert float(report["max_ms"]) < 1000
        subprocess.run(["fsfreeze", "-u", str(logs)], check=True)
        frozen = False
        report = writer.lines(10_000)
        assert writer.quit() == 0
        assert capture.wait_readers(10) and capture.flush(30)
    finally:
        if frozen:
            subprocess.run(["fsfreeze", "-u", str(logs)], check=False)
        capture.close()
    markers = check_exact_accounting(logs, int(report["lines"]), capture, rec)
    reasons = {reason for _, joined in markers for reason in joined.split(", ")}
    assert "disk not responding" in reasons and reasons <= {"disk not responding", "buffer full"}
    numbers, _, _ = split_numbered(all_lines(logs, "node"))
    assert numbers[-10_000:] == list(range(int(report["lines"]) - 10_000, int(report["lines"])))


@pytest.mark.usefixtures("mountable")
def test_close_returns_in_time_while_the_disk_hangs(tmp_path: Path, mounts: list[Path]) -> None:
    logs, _device = ext4_image(tmp_path, mounts)
    capture = LogCapture(settings(logs, compress=False), "node", EventBus())
    capture.start()
    subprocess.run(["fsfreeze", "-f", str(logs)], check=True)
    try:
        out_w, err_w = capture.open_stdio()
        writer = WriterProcess(out_w, err_w)
        writer.lines(100_000)
        assert writer.quit() == 0
        started = time.monotonic()
        capture.close(timeout=1.0)
        took = time.monotonic() - started
    finally:
        subprocess.run(["fsfreeze", "-u", str(logs)], check=False)
    assert took < 3.0, f"close() took {took:.1f} s with a 1 s timeout"
