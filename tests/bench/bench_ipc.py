"""Benchmark `ipc`: nodekeeper's control socket vs supervisord's control socket.

    .venv/bin/python -m tests.bench.bench_ipc [--seconds 3] [--toggles 20]

Both run as real processes supervising the same demo node and are asked
for the node's status over their Unix sockets: nodekeeper with
``status`` (JSON lines, one persistent connection per client), supervisord
with XML-RPC ``supervisor.getProcessInfo`` (what ``supervisorctl status``
calls). Measured with 1 and 50 concurrent clients (threads in this
process, the same harness for both): round trips per second and p99
latency. Then event fan-out: 200 nodekeeper subscribers, ``updates
on/off`` toggled --toggles times, latency from the request to each
subscriber receiving ``updates-toggled`` (this includes the core
persisting the switch in state.json), and the spread between the first
and the last subscriber (the fan-out alone); supervisord has no push
channel to compare with. One table, with ratios.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path

from nodekeeper.core.ipc.client import Client
from tests.helpers import REPO, CoreHarness, demo_node_command, free_port, wait_until


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def hammer(
    make_call: Callable[[], Callable[[], object]], clients: int, seconds: float
) -> tuple[float, float]:
    """``clients`` threads calling as fast as they can; returns (calls/s, p99 ms)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    stop_at: list[float] = [0.0]

    def worker(index: int) -> None:
        call = make_call()
        call()  # connect and warm up outside the measurement
        start.wait()
        mine = latencies[index]
        while True:
            before = time.perf_counter()
            if before >= stop_at[0]:
                return
            call()
            mine.append(time.perf_counter() - before)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + 1e9
    start.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    every = [value for per_thread in latencies for value in per_thread]
    return len(every) / elapsed, percentile(every, 0.99) * 1000


class Supervisord:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "supervisor.sock"
        port = free_port()
        command = " ".join(demo_node_command("run", "--port", str(port)))
        conf = root / "supervisord.conf"
        conf.write_text(
            f"[supervisord]\nlogfile={root}/supervisord.log\npidfile={root}/supervisord.pid\n"
            "nodaemon=true\n"
            f"[unix_http_server]\nfile={self.socket}\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
            f"[program:node]\ncommand={command}\ndirectory={REPO}\nautorestart=true\n"
            f"stdout_logfile={root}/node.log\nredirect_stderr=true\n"
        )
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "supervisord"), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: self._state() == "RUNNING", 20, "supervisord's node running")

    def proxy(self) -> xmlrpc.client.ServerProxy:
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def _state(self) -> str | None:
        try:
            info = self.proxy().supervisor.getProcessInfo("node")
            return str(info["statename"])  # type: ignore[index]
        except (OSError, xmlrpc.client.Fault):
            return None

    def make_call(self) -> Callable[[], object]:
        proxy = self.proxy()
        return lambda: proxy.supervisor.getProcessInfo("node")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def fan_out(socket_path: str, subscribers: int, toggles: int) -> tuple[list[float], list[float]]:
    """Latency (ms) from each ``set_updates`` request to each subscriber seeing its event,
    and per event the spread between the first and the last subscriber (the fan-out itself)."""
    socks = []
    for _ in range(subscribers):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(socket_path)
        sock.sendall(b'{"type":"request","id":1,"method":"subscribe"}\n')
        socks.append(sock)
    selector = selectors.DefaultSelector()
    buffers = {sock: b"" for sock in socks}
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)

    def collect(
        until: Callable[[dict[socket.socket, list[float]]], bool],
    ) -> dict[socket.socket, list[float]]:
        seen: dict[socket.socket, list[float]] = {sock: [] for sock in socks}
        deadline = time.monotonic() + 30
        while not until(seen):
            if time.monotonic() > deadline:
                raise AssertionError("subscribers did not receive the event")
            for key, _ in selector.select(1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                arrived = time.perf_counter()
                *lines, buffers[sock] = (buffers[sock] + sock.recv(1 << 20)).split(b"\n")
                for line in lines:
                    message = json.loads(line)
                    if (
                        message.get("event") == "updates-toggled"
                        or message.get("type") == "response"
                    ):
                        seen[sock].append(arrived)
        return seen

    collect(lambda seen: all(seen.values()))  # every subscription confirmed
    latencies: list[float] = []
    spreads: list[float] = []
    with Client(socket_path) as actor:
        for toggle in range(toggles):
            sent = time.perf_counter()
            actor.call("set_updates", {"enabled": toggle % 2 == 0})
            seen = collect(lambda seen: all(seen.values()))
            arrivals = [times[0] for times in seen.values()]
            latencies += [(arrived - sent) * 1000 for arrived in arrivals]
            spreads.append((max(arrivals) - min(arrivals)) * 1000)
    selector.close()
    for sock in socks:
        sock.close()
    return latencies, spreads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per row")
    parser.add_argument("--toggles", type=int, default=20, help="events for the fan-out row")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ipc-") as tmp:
        root = Path(tmp)
        core = CoreHarness(root / "nk")
        (root / "nk").mkdir()
        sv_root = root / "sv"
        sv_root.mkdir()
        try:
            core.start()
            path = str(core.socket_path)

            def nk_call() -> Callable[[], object]:
                client = Client(path)
                return lambda: client.call("status")

            nk1 = hammer(nk_call, 1, args.seconds)
            nk50 = hammer(nk_call, 50, args.seconds)
            fan, spread = fan_out(path, 200, args.toggles)
        finally:
            core.stop()
            core.cleanup()
        supervisord = Supervisord(sv_root)
        try:
            sv1 = hammer(supervisord.make_call, 1, args.seconds)
            sv50 = hammer(supervisord.make_call, 50, args.seconds)
        finally:
            supervisord.stop()

    print(f"{'metric':40} {'nodekeeper':>12} {'supervisord':>12} {'ratio':>8}")
    rows = [
        ("status round trips/s, 1 client", nk1[0], sv1[0]),
        ("status p99 latency ms, 1 client", nk1[1], sv1[1]),
        ("status round trips/s, 50 clients", nk50[0], sv50[0]),
        ("status p99 latency ms, 50 clients", nk50[1], sv50[1]),
    ]
    for name, ours, theirs in rows:
        print(f"{name:40} {ours:12.1f} {theirs:12.1f} {ours / theirs:8.2f}")
    print(
        f"{'event fan-out to 200, median ms':40} {statistics.median(fan):12.2f} {'-':>12} {'-':>8}"
    )
    print(f"{'event fan-out to 200, p99 ms':40} {percentile(fan, 0.99):12.2f} {'-':>12} {'-':>8}")
    print(
        f"{'first-to-last subscriber, median ms':40} {statistics.median(spread):12.2f} {'-':>12} {'-':>8}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
