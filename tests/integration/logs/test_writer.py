"""LogWriter on its own: producers faster than the disk, and a writer that is closed."""

from __future__ import annotations

import threading
from pathlib import Path

from nodekeeper.core.logs.files import node_prefix
from nodekeeper.core.logs.writer import LogWriter
from tests.integration.logs.support import MiB, all_lines, settings, split_numbered


def test_producers_faster_than_the_disk_wait_and_lose_nothing(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    conf = settings(logs, max_file_size=4 * MiB, compress=False)
    buffer = 256 * 1024
    writer = LogWriter(conf, "node", node_prefix("node"), buffer_bytes=buffer)
    writer.start()
    chunk = b"".join(b"%012d %s\n" % (i, b"x" * 86) for i in range(640))  # 64 KB
    puts = 1000  # 2 x 64 MB, produced much faster than it can be written
    peaks: list[int] = []

    def produce() -> None:
        peak = 0
        for _ in range(puts):
            assert writer.put(chunk)
            peak = max(peak, writer.backlog())
        peaks.append(peak)

    threads = [threading.Thread(target=produce) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.flush(60)
    writer.close()
    assert max(peaks) > buffer - len(chunk)  # the buffer really was full
    assert writer.dropped_lines == 0
    numbers, markers, other = split_numbered(all_lines(logs, "node"))
    assert markers == [] and other == []
    assert len(numbers) == 2 * puts * 640


def test_lines_put_after_close_are_counted_as_dropped(tmp_path: Path) -> None:
    writer = LogWriter(settings(tmp_path), "node", "node")
    writer.start()
    assert writer.put(b"kept\n")
    writer.close()
    assert not writer.put(b"late 1\nlate 2\n")
    assert writer.dropped_lines == 2
    assert (tmp_path / "node.log").read_bytes() == b"kept\n"


def test_written_lines_are_counted_only_when_asked_for(tmp_path: Path) -> None:
    counted = LogWriter(settings(tmp_path / "a"), "node", "node")
    uncounted = LogWriter(settings(tmp_path / "b"), "node", "node", count_lines=False)
    for writer in (counted, uncounted):
        writer.start()
        assert writer.put(b"one\ntwo\n")
        assert writer.put(b"three\n")
        assert writer.flush(10)
        writer.close()
    assert counted.written_lines == 3
    assert uncounted.written_lines == 0
    assert (tmp_path / "b" / "node.log").read_bytes() == b"one\ntwo\nthree\n"
