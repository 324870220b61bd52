"""Benchmark `metrics`: the cost of [metrics] listen, against the same core without it.

    .venv/bin/python -m tests.bench.bench_metrics [--scrapes 300] [--settle 3]

Two real cores supervise the same demo node in one run: one with
``[metrics] listen`` set, one without. Measured: the time of one scrape of
``/metrics`` (a new HTTP connection each time, as Prometheus does; median
and p99 in ms) next to one ``status`` call over the control socket of the
core without metrics (the same status object, read the other way), and the
resident memory (RSS) of both cores after they settled and after the
scrapes. Goals: a scrape under 5 ms and under 3 MiB added by the endpoint.
One table, with ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from nodekeeper.core.ipc.client import Client
from tests.helpers import CoreHarness, free_port, wait_until

MiB = 1024 * 1024


def rss(core: CoreHarness) -> int:
    assert core.process is not None
    return int(psutil.Process(core.process.pid).memory_info().rss)


def timed(call: object, count: int) -> list[float]:
    assert callable(call)
    call()  # warm up outside the measurement
    times = []
    for _ in range(count):
        before = time.perf_counter()
        call()
        times.append((time.perf_counter() - before) * 1000)
    return times


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain = CoreHarness(Path(tmp) / "off", instance="plain")
        metered = CoreHarness(Path(tmp) / "on", instance="metered")
        plain.root.mkdir()
        metered.root.mkdir()
        port = free_port()
        metered.extra["metrics"] = {"listen": f"127.0.0.1:{port}"}
        url = f"http://127.0.0.1:{port}/metrics"
        try:
            for core in (plain, metered):
                core.start()
                core.wait_state("running", timeout=30)

            def scrape() -> bytes:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return bytes(response.read())

            wait_until(lambda: b"nodekeeper_node_up" in scrape(), 15, "the metrics endpoint")
            time.sleep(args.settle)
            idle = (rss(plain), rss(metered))
            scrapes = timed(scrape, args.scrapes)
            with Client(str(plain.socket_path)) as client:
                statuses = timed(lambda: client.call("status", {}), args.scrapes)
            after = (rss(plain), rss(metered))
            size = len(scrape())
        finally:
            plain.cleanup()
            metered.cleanup()

    scrape_ms, status_ms = statistics.median(scrapes), statistics.median(statuses)
    rows = [
        ("one scrape of /metrics, median ms", f"{scrape_ms:.2f}", f"status call {status_ms:.2f}",
         f"{scrape_ms / status_ms:.1f}x", "< 5 ms", "yes" if scrape_ms < 5 else "NO"),
        ("one scrape, p99 ms", f"{p99(scrapes):.2f}", f"status call {p99(statuses):.2f}",
         f"{p99(scrapes) / p99(statuses):.1f}x", "", ""),
        ("core RSS settled, MiB", f"{idle[1] / MiB:.1f}", f"off {idle[0] / MiB:.1f}",
         f"+{(idle[1] - idle[0]) / MiB:.1f} MiB", "< 3 MiB",
         "yes" if idle[1] - idle[0] < 3 * MiB else "NO"),
        ("core RSS after scrapes, MiB", f"{after[1] / MiB:.1f}", f"off {after[0] / MiB:.1f}",
         f"+{(after[1] - after[0]) / MiB:.1f} MiB", "< 3 MiB",
         "yes" if after[1] - after[0] < 3 * MiB else "NO"),
    ]  # fmt: skip
    print(f"metrics endpoint: {args.scrapes} scrapes, {size} bytes each")
    header = ("measure", "metrics on", "reference", "ratio", "goal", "met")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
