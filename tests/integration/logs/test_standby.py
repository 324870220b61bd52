"""A pipe reader writing a quiet node's lines itself must never make the node wait on the disk.

The log file here is a FIFO that nobody reads until the test says so: the
first write that fills it hangs exactly like a write to a frozen disk, and
needs no root (tests/faults/logs freezes a real filesystem).
"""

from __future__ import annotations

import fcntl
import os
import select
import sys
import threading
from pathlib import Path

import pytest

from nodekeeper.core.events import EventBus
from nodekeeper.core.logs.capture import LogCapture
from tests.integration.logs.support import MiB, Recorder, WriterProcess, settings, split_numbered

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="readers write themselves on Linux only"
)


class Drain:
    """Reads the FIFO the log is written to, once started, into memory."""

    def __init__(self, fifo: Path) -> None:
        self.fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, 4096)  # the smallest: it fills at once
        self.data = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while not self._stop.is_set():
            poller.poll(100)
            self._read_available()

    def _read_available(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, MiB)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.data += chunk

    def stop(self) -> bytes:
        self._stop.set()
        self._thread.join(10)
        self._read_available()
        os.close(self.fd)
        return bytes(self.data)


def test_a_reader_stuck_in_its_own_write_never_blocks_the_node(tmp_path: Path) -> None:
    fifo = tmp_path / "node.log"
    os.mkfifo(fifo)
    drain = Drain(fifo)
    bus = EventBus()
    rec = Recorder(bus)
    capture = LogCapture(settings(tmp_path, max_file_size=512 * MiB, compress=False), "node", bus)
    capture.start()
    try:
        out_w, err_w = capture.open_stdio()
        writer = WriterProcess(out_w, err_w)
        # A quiet node's lines, written by the reader itself: the second write finds the
        # FIFO full and hangs there.
        writer.lines(30)
        writer.lines(30)
        report = writer.lines(1_000_000)  # 100 MB while the reader is stuck
        assert float(report["max_ms"]) < 1000
        drain.start()
        # The disk is back once what the stuck write held is out: from then on, nothing drops.
        assert capture.flush(30)
        report = writer.lines(10_000)
        assert writer.quit() == 0
        assert capture.wait_readers(10) and capture.flush(30)
    finally:
        data = drain.stop()
        capture.close()
    numbers, markers, other = split_numbered(data.split(b"\n")[:-1])
    assert other == []
    assert numbers == sorted(set(numbers)), "a line appears twice or out of order"
    dropped = sum(count for count, _ in markers)
    assert dropped > 0
    assert dropped == int(report["lines"]) - len(numbers)
    assert capture.status()["dropped_lines"] == dropped
    assert sum(int(e.data["lines"]) for e in rec.kinds("logs-dropped")) == dropped
    reasons = {reason for _, joined in markers for reason in joined.split(", ")}
    assert "disk not responding" in reasons
    assert numbers[-10_000:] == list(range(int(report["lines"]) - 10_000, int(report["lines"])))
