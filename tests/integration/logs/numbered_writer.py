"""A stand-in node for log tests: writes numbered lines and measures its own writes.

    python numbered_writer.py --bytes N [--line-size 100] [--stderr-every K] [--repeat]
            --report FILE
        write N bytes of numbered lines to stdout, then exit (--repeat: the same
        8192 numbered lines over and over, as fast as Python can write)
    python numbered_writer.py --commands --ack-fd FD
        read commands from stdin: "lines N" writes N more lines, "partial TEXT" writes
        TEXT without a newline, "quit" exits; after each command one JSON line goes to FD

Every line is ``<12-digit number> <filler>\\n``; numbers start at 0 and never
repeat. The report (JSON) holds lines and bytes written, the sha256 of
stdout's bytes and the p99/max time of one write() in milliseconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

BLOCK_LINES = 512


class Writer:
    def __init__(self, line_size: int, stderr_every: int) -> None:
        self.line_size = line_size
        self.filler = b"x" * (line_size - 14)
        self.stderr_every = stderr_every
        self.next_number = 0
        self.bytes = 0
        self.digest = hashlib.sha256()
        self.latencies: list[float] = []

    def _write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            t0 = time.perf_counter()
            n = os.write(fd, view)
            self.latencies.append(time.perf_counter() - t0)
            view = view[n:]

    def write_lines(self, count: int) -> None:
        while count > 0:
            k = min(count, BLOCK_LINES)
            start = self.next_number
            if self.stderr_every:
                out, err = [], []
                for i in range(start, start + k):
                    line = b"%012d %s\n" % (i, self.filler)
                    (err if i % self.stderr_every == 0 else out).append(line)
                block = b"".join(out)
                if err:
                    self._write(2, b"".join(err))
            else:
                block = b"".join(
                    [b"%012d %s\n" % (i, self.filler) for i in range(start, start + k)]
                )
            self._write(1, block)
            self.digest.update(block)
            self.bytes += len(block)
            self.next_number += k
            count -= k

    def repeat_block(self, count: int) -> None:
        """Write ``count`` lines as copies of one numbered block (for raw throughput)."""
        block = b"".join(b"%012d %s\n" % (i, self.filler) for i in range(BLOCK_LINES * 16))
        per_block = BLOCK_LINES * 16
        while count > 0:
            k = min(count, per_block)
            data = block if k == per_block else block[: k * self.line_size]
            self._write(1, data)
            self.digest.update(data)
            self.bytes += len(data)
            self.next_number += k
            count -= k

    def report(self) -> dict[str, object]:
        lat = sorted(self.latencies) or [0.0]
        return {
            "lines": self.next_number,
            "bytes": self.bytes,
            "sha256": self.digest.hexdigest(),
            "writes": len(self.latencies),
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
            "max_ms": lat[-1] * 1000,
        }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bytes", type=int, default=0)
    parser.add_argument("--line-size", type=int, default=100)
    parser.add_argument("--stderr-every", type=int, default=0)
    parser.add_argument("--report", default="")
    parser.add_argument(
        "--repeat", action="store_true", help="repeat one block (numbers not unique): fastest"
    )
    parser.add_argument("--commands", action="store_true")
    parser.add_argument("--ack-fd", type=int, default=-1)
    args = parser.parse_args()
    writer = Writer(args.line_size, args.stderr_every)
    if not args.commands:
        if args.repeat:
            writer.repeat_block(args.bytes // args.line_size)
        else:
            writer.write_lines(args.bytes // args.line_size)
        if args.report:  # atomically: readers poll for the file
            with open(args.report + ".tmp", "w") as f:
                json.dump(writer.report(), f)
            os.replace(args.report + ".tmp", args.report)
        return 0
    for command in sys.stdin:
        verb, _, rest = command.strip().partition(" ")
        if verb == "quit":
            break
        if verb == "lines":
            writer.write_lines(int(rest))
        elif verb == "partial":
            writer._write(1, rest.encode())
        os.write(args.ack_fd, json.dumps(writer.report()).encode() + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
