"""Self-update: what the node notices of a core replacing itself, against restarting the core.

A `nodekeeper run` core (the venv install, or the bundle named by
NK_BENCH_BUNDLE) supervises the demo node, which logs 500 numbered lines a
second and answers health checks. A prober asks the node's health URL every
20 ms from outside. Then, several times each:

* **self-update**: a new core is published on the signed `nodekeeper`
  channel (`nodekeeper release add` + `channel`, served by `nodekeeper
  release serve`) and a check is asked for at once (`check --self`; with
  jitter 0 this is what the scheduled check does when it comes); measured
  until the new core runs, committed;
* **core restart** (the peer: how the core was replaced before it could
  update itself): SIGTERM the core, start it again.

Reported: node pid kept or not, node downtime (the longest run of failed
health probes), node log lines lost and written twice (the demo node numbers
its lines), and the time from publishing to the new core running.

    python -m tests.bench.bench_selfupdate [--rounds 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.bench.bench_product import nodekeeper_command
from tests.bench.summary import record
from tests.helpers import REPO, free_port, to_toml, wait_until

NUMBER = re.compile(rb'"n": (\d+)}$')
PROBE_INTERVAL = 0.02


def run(*args: str) -> None:
    done = subprocess.run([*nodekeeper_command(), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"nodekeeper {' '.join(args[:2])} failed: {done.stderr.strip()}")


class Prober(threading.Thread):
    """Asks the node's health URL every 20 ms; remembers every failure's time."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.results: list[tuple[float, bool]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(PROBE_INTERVAL):
            try:
                with urllib.request.urlopen(self.url, timeout=0.5) as answer:
                    ok = answer.status == 200
            except OSError:
                ok = False
            self.results.append((time.monotonic(), ok))

    def downtime(self, start: float, end: float) -> tuple[float, int]:
        """The longest stretch of failed probes within [start, end], and how many failed."""
        longest = 0.0
        failed = 0
        first_fail: float | None = None
        for at, ok in self.results:
            if at < start or at > end:
                continue
            if not ok:
                failed += 1
                first_fail = at if first_fail is None else first_fail
                longest = max(longest, at - first_fail + PROBE_INTERVAL)
            else:
                first_fail = None
        return longest, failed


class Bench:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"
        self.keys = root / "keys.json"
        self.config = root / "nodekeeper.toml"
        self.data = root / "data"
        self.socket = root / "nk.sock"
        self.port = free_port()
        self.core: subprocess.Popen[bytes] | None = None
        self.server: subprocess.Popen[bytes] | None = None
        self.builds = root / "builds"

    def publisher(self, *args: str) -> None:
        run("release", *args, "--key-file", str(self.keys))

    def setup(self) -> None:
        from nodekeeper.core.demo.package import build_release_binary, build_release_zip

        self.publisher("init", str(self.repo))
        zip_path = build_release_zip("1.0.0", self.root / "node-1.0.0.zip")
        from nodekeeper.core.platform.ids import platform_id

        self.publisher("add", str(self.repo), "--version", "1.0.0", "--platform", platform_id(),
                       "--file", str(zip_path))  # fmt: skip
        self.publisher("channel", str(self.repo), "--suggested", "1.0.0", "--rollout", "100")
        serve_port = free_port()
        self.server = subprocess.Popen(
            [*nodekeeper_command(), "release", "serve", str(self.repo), "--port", str(serve_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _listening(serve_port), 20, "the release server")
        binary = build_release_binary("1.0.0", self.root / "initial" / "storagenode")
        config = {
            "instance": "bench",
            "node": {
                "command": ["{binary}", "run", "--port", str(self.port), "--log-rate", "500"],
                "initial_binary": str(binary),
                "health_url": f"http://127.0.0.1:{self.port}/api/sno",
                "health_interval": "1s",
                "health_timeout": "500ms",
            },
            "updates": {
                "enabled": True,
                "source": "tuf",
                "url": f"http://127.0.0.1:{serve_port}/",
                "trusted_root": str(self.repo / "metadata" / "1.root.json"),
                "allow_http": True,
                "startup_delay": "1h",
                "jitter": "0s",
            },
            "self_update": {"probation": "30s"},
            "logs": {"dir": str(self.root / "logs"), "max_file_size": "1GiB"},
            "paths": {"data_dir": str(self.data), "socket": str(self.socket)},
        }
        self.config.write_text(to_toml(config))

    def start_core(self) -> None:
        self.core = subprocess.Popen(
            [*nodekeeper_command(), "run", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "core.err", "ab"),
            cwd=REPO,
        )

    def status(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.data / "status.json").read_text())
            return data
        except (OSError, ValueError):
            return {}

    def node_running(self) -> dict[str, Any] | None:
        status = self.status()
        node = status.get("node") or {}
        return status if node.get("state") == "running" and node.get("healthy") else None

    def build_core(self, version: str) -> Path:
        from nodekeeper.core.selfupdate.devbuild import copy_bundle, pack_bundle, write_dev_bundle

        bundle = os.environ.get("NK_BENCH_BUNDLE")
        if bundle:
            return pack_bundle(copy_bundle(Path(bundle).resolve().parent, self.builds, version))
        return pack_bundle(write_dev_bundle(self.builds, version))

    def self_update(self, version: str) -> dict[str, float]:
        from nodekeeper.core.selfupdate.manifest import this_platform

        archive = self.build_core(version)
        start = time.monotonic()
        self.publisher("add", str(self.repo), "--process", "nodekeeper", "--version", version,
                       "--platform", this_platform(), "--file", str(archive))  # fmt: skip
        self.publisher("channel", str(self.repo), "--process", "nodekeeper",
                       "--suggested", version, "--rollout", "100")  # fmt: skip
        published = time.monotonic()
        run("check", "--self", "--config", str(self.config))

        def committed() -> bool:
            status = self.status()
            trying = (status.get("self_update") or {}).get("trying")
            return status.get("core_version") == version and trying is None

        wait_until(committed, 120, f"core {version}", 0.01)
        running = time.monotonic()
        wait_until(self.node_running, 30, "the node", 0.02)
        return {"publish": published - start, "to_running": running - published}

    def restart_core(self) -> None:
        assert self.core is not None
        self.core.send_signal(signal.SIGTERM)
        self.core.wait(60)
        self.start_core()
        wait_until(self.node_running, 60, "the node after the restart", 0.02)

    def node_pid(self) -> int:
        return int(self.status()["node"]["pid"])

    def stop(self) -> None:
        for process in (self.core, self.server):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def line_numbers(logs: Path) -> list[int]:
    numbers: list[int] = []
    for path in sorted(logs.glob("bench*.log")):
        numbers += [
            int(m.group(1)) for line in path.read_bytes().splitlines() if (m := NUMBER.search(line))
        ]
    return numbers


def gaps_and_repeats(numbers: list[int]) -> tuple[int, int]:
    """Lines missing between consecutive numbers, and lines seen twice (within one node run)."""
    lost = repeated = 0
    for before, after in itertools.pairwise(numbers):
        if after == before + 1:
            continue
        if after <= before:
            repeated += before - after + 1
        else:
            lost += after - before - 1
    return lost, repeated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="self-updates (and restarts) each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nk-bench-selfupdate-") as tmp:
        bench = Bench(Path(tmp))
        try:
            bench.setup()
            bench.start_core()
            wait_until(bench.node_running, 60, "the node", 0.05)
            prober = Prober(f"http://127.0.0.1:{bench.port}/api/sno")
            prober.start()
            time.sleep(1)
            updates: list[dict[str, float]] = []
            down_update: list[float] = []
            failed_update = 0
            kept = 0
            for round_ in range(args.rounds):
                pid = bench.node_pid()
                start = time.monotonic()
                updates.append(bench.self_update(f"0.9.{round_ + 1}"))
                time.sleep(0.5)
                longest, failed = prober.downtime(start, time.monotonic())
                down_update.append(longest)
                failed_update += failed
                kept += bench.node_pid() == pid
                print(f"self-update {round_ + 1}: {updates[-1]}, failed probes {failed}",
                      file=sys.stderr)  # fmt: skip
            # Every line of the one node run, across every self-update.
            bench.stop()
            prober.stop.set()
            lost, repeated = gaps_and_repeats(line_numbers(bench.root / "logs"))
            bench.start_core()
            wait_until(bench.node_running, 60, "the node", 0.05)
            prober = Prober(f"http://127.0.0.1:{bench.port}/api/sno")
            prober.start()
            time.sleep(1)
            down_restart: list[float] = []
            changed = 0
            for _ in range(args.rounds):
                pid = bench.node_pid()
                start = time.monotonic()
                bench.restart_core()
                time.sleep(0.5)
                down_restart.append(prober.downtime(start, time.monotonic())[0])
                changed += bench.node_pid() != pid
            prober.stop.set()
        except (AssertionError, SystemExit):
            err = bench.root / "core.err"
            if err.exists():
                print(err.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            bench.stop()
    median_down = statistics.median(down_update)
    median_restart = statistics.median(down_restart)
    to_running = statistics.median(u["to_running"] for u in updates)
    rounds = args.rounds
    print(f"\n{'metric':44}{'self-update':>14}{'core restart':>14}  goal")
    print(f"{'node pid kept':44}{f'{kept}/{rounds}':>14}{f'{rounds - changed}/{rounds}':>14}  all")
    print(f"{'node downtime, median s':44}{median_down:>14.2f}{median_restart:>14.2f}  0")
    print(f"{'failed health probes (every 20 ms)':44}{failed_update:>14}{'':>14}  0")
    print(f"{'node log lines lost / written twice':44}{f'{lost} / {repeated}':>14}{'':>14}  0 / 0")
    print(f"{'publish to new core running, median s':44}{to_running:>14.2f}{'':>14}")
    record("self-update: node pid kept", f"{kept}/{rounds}", f"restart: {rounds - changed}/{rounds}",
           None, "all")  # fmt: skip
    record("self-update: node downtime s", f"{median_down:.2f}", f"restart: {median_restart:.2f}",
           None, "0")  # fmt: skip
    record("self-update: lines lost / twice", f"{lost} / {repeated}", "", None, "0 / 0")
    record("self-update: publish to running s", f"{to_running:.2f}", "", None, "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
