"""Benchmark `supervisor`: nodekeeper vs supervisord supervising the same demo node.

    .venv/bin/python -m tests.bench.bench_supervisor [--idle 60] [--crashes 30]

(a) idle RSS of the supervising process and its CPU seconds over --idle s
(nodekeeper also without health checks, the same work supervisord does);
(b) restart latency from the node's death (SIGKILL) to the new node's pid,
median and p95 over --crashes crashes. Both supervisors capture the node's
output to a log file, as they would in production. One table, with ratios.
Targets: restart latency <= 0.5x supervisord's, idle CPU <= supervisord's,
RSS <= 1.2x supervisord's.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.bench.summary import record
from tests.helpers import REPO, demo_node_command, free_port, to_toml, wait_until


@dataclass
class Result:
    rss_mib: float
    cpu_s: float
    restart_median_ms: float
    restart_p95_ms: float


class Supervised:
    """A supervisor process running one demo node tagged with a unique marker."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root
        self.marker = str(root / f"{name}-node")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def node_command(self) -> list[str]:
        return demo_node_command(
            "run", "--port", str(self.port), "--pid-file", self.marker, "--log-rate", "1"
        )

    def node_pids(self) -> list[int]:
        return [
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if self.marker in (p.info["cmdline"] or [])
        ]

    def start(self) -> None:
        raise NotImplementedError

    def supervisor_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for pid in self.node_pids():
            os.kill(pid, signal.SIGKILL)


class Nodekeeper(Supervised):
    health_checks = True

    def start(self) -> None:
        health = (
            {"health_url": f"http://127.0.0.1:{self.port}/api/sno"} if self.health_checks else {}
        )
        config = {
            "instance": "bench",
            "node": {
                "command": self.node_command(),
                **health,
                # Crashes come 1.5 s apart in (b); a run of 1 s counts as stable,
                # so every restart is a first restart, as for an occasional crash.
                "stable_after": "1s",
            },
            # The idle window measures supervision; update checks (every 12 h by
            # default, first within startup_delay) are kept out of it.
            "updates": {"enabled": False, "startup_delay": "1h"},
            "logs": {"dir": str(self.root / "nk-logs")},
            "paths": {"data_dir": str(self.root / "nk-data"), "socket": str(self.root / "nk.sock")},
        }
        path = self.root / "nodekeeper.toml"
        path.write_text(to_toml(config))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nodekeeper.core", "run", "--config", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
        )


class NodekeeperNoHealth(Nodekeeper):
    """The same work as supervisord does: supervise and capture, no health checks."""

    health_checks = False


class Supervisord(Supervised):
    def start(self) -> None:
        command = " ".join(self.node_command())
        conf = self.root / "supervisord.conf"
        conf.write_text(f"""[supervisord]
nodaemon=true
logfile={self.root}/supervisord.log
pidfile={self.root}/supervisord.pid

[program:node]
command={command}
directory={REPO}
autorestart=true
startsecs=1
stdout_logfile={self.root}/sv-node.log
stderr_logfile={self.root}/sv-node.err
""")
        supervisord = Path(sys.executable).parent / "supervisord"
        self.process = subprocess.Popen(
            [str(supervisord), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
        )


def measure_idle(target: Supervised, seconds: float) -> tuple[float, float]:
    proc = psutil.Process(target.supervisor_pid())
    before = proc.cpu_times()
    time.sleep(seconds)
    after = proc.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return proc.memory_info().rss / 2**20, cpu


def measure_restarts(target: Supervised, crashes: int, spacing: float) -> list[float]:
    latencies = []
    for _ in range(crashes):
        (old,) = wait_until(lambda: len(p := target.node_pids()) == 1 and p, 30, "one node")
        time.sleep(spacing)
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(
            lambda old=old: any(p != old for p in target.node_pids()), 30, "the new node", 0.001
        )
        latencies.append(time.monotonic() - killed)
    return latencies


def bench(
    make: Callable[[str, Path], Supervised], name: str, root: Path, idle: float, crashes: int
) -> Result:
    target = make(name, root)
    target.start()
    try:
        wait_until(lambda: len(target.node_pids()) == 1, 30, f"{name}'s node")
        time.sleep(3)  # let start-up work settle before measuring idle cost
        rss, cpu = measure_idle(target, idle)
        latencies = measure_restarts(target, crashes, spacing=1.5)
    finally:
        target.stop()
    if not latencies:
        return Result(rss, cpu, float("nan"), float("nan"))
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return Result(rss, cpu, statistics.median(latencies) * 1000, p95 * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    parser.add_argument("--crashes", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nk-bench-") as tmp:
        root = Path(tmp)
        nk = bench(Nodekeeper, "nodekeeper", root, args.idle, args.crashes)
        bare = bench(NodekeeperNoHealth, "nodekeeper-bare", root, args.idle, 0)
        sv = bench(Supervisord, "supervisord", root, args.idle, args.crashes)
    rows = [
        ("idle RSS (MiB)", nk.rss_mib, sv.rss_mib, "<= 1.2"),
        (f"idle CPU s / {args.idle:g}s", nk.cpu_s, sv.cpu_s, "<= 1.0"),
        ("  without health checks", bare.cpu_s, sv.cpu_s, "<= 1.0"),
        ("restart latency median (ms)", nk.restart_median_ms, sv.restart_median_ms, "<= 0.5"),
        ("restart latency p95 (ms)", nk.restart_p95_ms, sv.restart_p95_ms, "<= 0.5"),
    ]
    print(f"{'metric':32} {'nodekeeper':>12} {'supervisord':>12} {'ratio':>8}  target")
    for label, a, b, target in rows:
        ratio = a / b if b else float("inf")
        print(f"{label:32} {a:12.3f} {b:12.3f} {ratio:8.2f}  {target}")
        if label.startswith("restart"):
            record(label, f"{a:.0f}", f"{b:.0f}", ratio, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
