"""LogCapture with real pipes, a real writer process and real files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nodekeeper.core.events import EventBus
from nodekeeper.core.logs.capture import LogCapture
from nodekeeper.core.logs.files import total_bytes
from nodekeeper.core.logs.lines import CONTINUED, CONTINUES
from nodekeeper.core.logs.policy import archive_name
from tests.integration.logs.support import (
    WRITER,
    MiB,
    WriterProcess,
    all_lines,
    family_files,
    iter_file_bytes,
    settings,
    split_numbered,
)

TEST_BYTES = int(os.environ.get("NK_TEST_LOG_BYTES", str(2 * 1000**3)))


def start_capture(directory: Path, **overrides: object) -> LogCapture:
    capture = LogCapture(settings(directory, **overrides), "node", EventBus())
    capture.start()
    return capture


def run_writer(capture: LogCapture, tmp_path: Path, *args: str) -> dict[str, float]:
    out_w, err_w = capture.open_stdio()
    report = tmp_path / "report.json"
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), "--report", str(report), *args], stdout=out_w, stderr=err_w
    )
    os.close(out_w)
    os.close(err_w)
    assert proc.wait(600) == 0
    assert capture.wait_readers(60)
    assert capture.flush(60)
    result: dict[str, float] = json.loads(report.read_text())
    return result


@pytest.mark.slow
def test_every_line_arrives_exactly_once_in_order_never_split_across_files(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    capture = start_capture(logs, max_file_size=10 * MiB, max_total_size=1 << 40)
    try:
        report = run_writer(capture, tmp_path, "--bytes", str(TEST_BYTES))
        assert capture._compressor.wait_idle(600)
    finally:
        capture.close()
    digest = hashlib.sha256()
    files = 0
    for path, data in iter_file_bytes(logs, "node"):
        assert data.endswith(b"\n"), f"{path.name} ends inside a line"
        assert len(data) <= 10 * MiB
        digest.update(data)
        files += 1
    # Archives (decompressed, oldest first) + current file == exactly what was written.
    assert digest.hexdigest() == report["sha256"]
    assert files >= TEST_BYTES // (10 * MiB)
    assert not [p for p in logs.iterdir() if p.name.endswith(".log") and p.name != "node.log"]
    print(
        f"\n{TEST_BYTES / 1e6:.0f} MB, {files} files, write p99 {report['p99_ms']:.2f} ms, "
        f"max {report['max_ms']:.2f} ms"
    )


def test_stdout_and_stderr_lines_all_arrive_whole(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    capture = start_capture(logs, max_file_size=256 * 1024)
    try:
        report = run_writer(capture, tmp_path, "--bytes", str(20 * MiB), "--stderr-every", "7")
    finally:
        capture.close()
    numbers, markers, other = split_numbered(all_lines(logs, "node"))
    assert other == [] and markers == []
    assert sorted(numbers) == list(range(int(report["lines"])))
    stderr_numbers = [n for n in numbers if n % 7 == 0]
    stdout_numbers = [n for n in numbers if n % 7]
    assert stderr_numbers == sorted(stderr_numbers) and stdout_numbers == sorted(stdout_numbers)


def test_final_partial_line_is_written_with_a_newline_after_eof(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    capture = start_capture(logs)
    try:
        out_w, err_w = capture.open_stdio()
        code = "import sys; sys.stdout.write('first\\nlast words'); sys.stderr.write('err no nl')"
        subprocess.run([sys.executable, "-c", code], stdout=out_w, stderr=err_w, check=True)
        os.close(out_w)
        os.close(err_w)
        assert capture.wait_readers(10) and capture.flush(10)
        assert sorted(capture.tail(10)) == ["err no nl", "first", "last words"]
    finally:
        capture.close()
    assert (logs / "node.log").read_bytes().endswith(b"\n")


def test_reader_waits_for_descendants_that_keep_the_pipe(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    capture = start_capture(logs)
    try:
        out_w, err_w = capture.open_stdio()
        code = (
            "import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(0.5); print(\"from grandchild\")'])"
        )
        subprocess.run([sys.executable, "-c", code], stdout=out_w, stderr=err_w, check=True)
        os.close(out_w)
        os.close(err_w)
        assert capture.wait_readers(10) and capture.flush(10)
        assert capture.tail(5) == ["from grandchild"]
    finally:
        capture.close()


def test_huge_line_is_cut_into_marked_pieces_and_memory_stays_bounded(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    capture = start_capture(logs)
    try:
        out_w, err_w = capture.open_stdio()
        code = "import sys; sys.stdout.buffer.write(b'a' * (5 * 1024 * 1024 + 7) + b'\\nnext\\n')"
        subprocess.run([sys.executable, "-c", code], stdout=out_w, stderr=err_w, check=True)
        os.close(out_w)
        os.close(err_w)
        assert capture.wait_readers(10) and capture.flush(10)
    finally:
        capture.close()
    lines = (logs / "node.log").read_bytes().split(b"\n")[:-1]
    assert lines[-1] == b"next"
    pieces = lines[:-1]
    assert len(pieces) == 6
    assert pieces[0].endswith(CONTINUES[:-1]) and not pieces[0].startswith(CONTINUED)
    assert all(p.startswith(CONTINUED) for p in pieces[1:])
    assert all(len(p) <= 1024 * 1024 + len(CONTINUED) + len(CONTINUES) for p in pieces)
    body = b"".join(p.removeprefix(CONTINUED).removesuffix(CONTINUES[:-1]) for p in pieces)
    assert body == b"a" * (5 * 1024 * 1024 + 7)


def test_lines_of_consecutive_node_runs_follow_each_other(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    capture = start_capture(logs)
    try:
        for run in range(3):
            out_w, err_w = capture.open_stdio()
            subprocess.run(
                [sys.executable, "-c", f"print('run {run}')"],
                stdout=out_w,
                stderr=err_w,
                check=True,
            )
            os.close(out_w)
            os.close(err_w)
            assert capture.wait_readers(10)
        assert capture.flush(10)
        assert capture.tail(3) == ["run 0", "run 1", "run 2"]
    finally:
        capture.close()


@pytest.mark.slow
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_total_size_never_exceeds_the_cap_plus_one_file(tmp_path: Path, compress: bool) -> None:
    logs = tmp_path / "logs"
    cap, file_size = 50 * MiB, 10 * MiB
    capture = start_capture(logs, max_file_size=file_size, max_total_size=cap, compress=compress)
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(total_bytes(logs, "node"))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        run_writer(capture, tmp_path, "--bytes", str(400 * MiB))
    finally:
        stop.set()
        sampler.join()
        capture.close()
    samples.append(total_bytes(logs, "node"))
    assert len(samples) > 5
    assert max(samples) <= cap + file_size, f"peak {max(samples)} bytes"
    # the newest lines survive pruning: the last file ends with the last line written
    numbers, _, _ = split_numbered(all_lines(logs, "node"))
    assert numbers[-1] == 400 * MiB // 100 - 1
    assert numbers == list(range(numbers[0], numbers[-1] + 1))


def test_archives_older_than_max_age_are_deleted_at_start(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    now = time.time()
    old = logs / (archive_name("node", now - 40 * 86400, []) + ".gz")
    young = logs / (archive_name("node", now - 10 * 86400, []) + ".gz")
    unrelated = logs / "other-20200101T000000.000Z.log.gz"
    for path in (old, young, unrelated):
        path.write_bytes(b"")
    capture = start_capture(logs, max_age=30 * 86400.0)
    capture.close()
    assert not old.exists() and young.exists() and unrelated.exists()


def test_status_reports_dir_bytes_and_no_drops(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    capture = start_capture(logs, max_file_size=MiB)
    try:
        run_writer(capture, tmp_path, "--bytes", str(3 * MiB))
        status = capture.status()
    finally:
        capture.close()
    assert status["dir"] == str(logs)
    assert status["dropped_lines"] == 0
    on_disk = sum(p.stat().st_size for p in family_files(logs, "node"))
    assert 0 < int(status["bytes"]) <= on_disk + 3 * MiB  # compression may finish in between


def test_writes_do_not_block_during_rotation_and_compression(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    capture = start_capture(logs, max_file_size=MiB)
    try:
        out_w, err_w = capture.open_stdio()
        writer = WriterProcess(out_w, err_w)
        worst: list[float] = []
        for _ in range(20):
            report = writer.lines(20_000)  # 2 MB: at least one rotation each
            worst.append(float(report["max_ms"]))
        p99 = float(report["p99_ms"])
        assert writer.quit() == 0
        assert capture.wait_readers(10) and capture.flush(10)
    finally:
        capture.close()
    print(f"\nwrite() p99 {p99:.2f} ms, max {max(worst):.2f} ms")
    assert p99 < 50
    numbers, _, _ = split_numbered(all_lines(logs, "node"))
    assert numbers == list(range(400_000))
