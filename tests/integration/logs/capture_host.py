"""A process that runs LogCapture around a numbered writer (for kill tests and the benchmark).

    python -m tests.integration.logs.capture_host --dir DIR --bytes N
        [--max-file-size B] [--max-total-size B] [--no-compress] [--wait-compression]

Prints one JSON line when done: the writer's report plus the host's own CPU
seconds (user+system, children excluded) when every line was written and
after compression, the seconds from the writer's start until every line
was written (and until compression finished), and the capture's status.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from nodekeeper.core.events import EventBus
from nodekeeper.core.logs.capture import LogCapture
from tests.integration.logs.support import WRITER, settings


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--bytes", type=int, required=True)
    parser.add_argument("--line-size", type=int, default=100)
    parser.add_argument("--max-file-size", type=int, default=10 * 1024 * 1024)
    parser.add_argument("--max-total-size", type=int, default=1 << 40)
    parser.add_argument("--no-compress", action="store_true")
    parser.add_argument("--wait-compression", action="store_true")
    parser.add_argument(
        "--repeat", action="store_true", help="fastest writer (see numbered_writer)"
    )
    args = parser.parse_args()
    conf = settings(
        Path(args.dir),
        max_file_size=args.max_file_size,
        max_total_size=args.max_total_size,
        compress=not args.no_compress,
    )
    capture = LogCapture(conf, "node", EventBus())
    capture.start()
    report_path = Path(args.dir).parent / "writer-report.json"
    out_w, err_w = capture.open_stdio()
    started = time.monotonic()
    writer = subprocess.Popen(
        [
            sys.executable,
            str(WRITER),
            "--bytes",
            str(args.bytes),
            "--line-size",
            str(args.line_size),
            "--report",
            str(report_path),
            *(["--repeat"] if args.repeat else []),
        ],
        stdout=out_w,
        stderr=err_w,
    )
    os.close(out_w)
    os.close(err_w)
    writer.wait()
    capture.wait_readers(600)
    capture.flush(600)
    elapsed = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    if args.wait_compression:
        capture._compressor.wait_idle(600)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_total = usage.ru_utime + usage.ru_stime
    compressed_s = time.monotonic() - started
    status = capture.status()
    capture.close()
    result = json.loads(report_path.read_text())
    result.update(
        {
            "capture_cpu_s": cpu,
            "capture_cpu_total_s": cpu_total,
            "elapsed_s": elapsed,
            "compressed_s": compressed_s,
            "status": status,
        }
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
