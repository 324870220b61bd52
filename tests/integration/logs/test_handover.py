"""A hand-over of the node's pipes between two log captures loses and repeats no line.

The writer stands in for the node: it keeps copies of its pipes' read ends,
as the node does. The first capture stops mid-stream (``detach``), the
second one opens the same pipes again through /proc and feeds the partial
lines the first one held; the files must hold every numbered line once, in
order, whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nodekeeper.core.events import EventBus
from nodekeeper.core.logs.capture import LogCapture
from nodekeeper.core.platform import pipes as node_pipes
from tests.integration.logs.support import WRITER, MiB, all_lines, settings, split_numbered

pytestmark = pytest.mark.skipif(not node_pipes.can_reopen(), reason="needs /proc (Linux)")


def test_lines_survive_a_hand_over_between_two_captures_exactly_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    first = LogCapture(settings(logs, max_file_size=4 * MiB), "node", EventBus())
    first.start()
    pipes = first.open_pipes()
    report = tmp_path / "report.json"
    total = 300 * 1000 * 1000
    writer = subprocess.Popen(
        # 97-byte lines: reads end inside a line, so a partial line is held at the hand-over.
        [
            sys.executable,
            str(WRITER),
            "--bytes",
            str(total),
            "--line-size",
            "97",
            "--report",
            str(report),
        ],
        stdout=pipes.stdout_w,
        stderr=pipes.stderr_w,
        pass_fds=pipes.read_ends,
    )
    os.close(pipes.stdout_w)
    os.close(pipes.stderr_w)
    time.sleep(0.2)  # mid-stream
    assert writer.poll() is None, "the writer finished before the hand-over"
    held = first.detach()
    assert held is not None
    first.close()
    second = LogCapture(settings(logs, max_file_size=4 * MiB), "node", EventBus())
    second.start()
    partials = {pipe.inode: pipe.partial for pipe in held}
    adopted = []
    for record in node_pipes.records(pipes):
        fd = node_pipes.reopen(writer.pid, record)
        assert fd is not None, f"cannot reopen {record}"
        adopted.append((record.stream, fd, partials.get(record.inode, b"")))
    second.adopt_pipes(adopted)
    assert writer.wait(300) == 0
    assert second.wait_readers(60)
    assert second.flush(60)
    second.close()
    written = json.loads(report.read_text())
    numbers, markers, other = split_numbered(all_lines(logs, "node"))
    assert markers == [] and other == []
    assert numbers == list(range(int(written["lines"])))


def test_reopen_refuses_a_pipe_the_process_does_not_hold(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    try:
        inode = os.fstat(read_fd).st_ino
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            record = node_pipes.PipeRecord("stdout", read_fd, inode)
            assert node_pipes.reopen(sleeper.pid, record) is None  # not passed on: closed there
            assert node_pipes.reopen(os.getpid(), record) is not None
            wrong = node_pipes.PipeRecord("stdout", read_fd, inode + 1)
            assert node_pipes.reopen(os.getpid(), wrong) is None  # another pipe at that number
        finally:
            sleeper.kill()
            sleeper.wait()
    finally:
        os.close(read_fd)
        os.close(write_fd)
