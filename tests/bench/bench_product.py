"""The core as users run it, against supervisord: idle CPU, cold start, status, many instances.

    .venv/bin/python -m tests.bench.bench_product [--idle 300] [--starts 5] [--calls 10]
        [--parts idle,cold,status] [--instances 1,5,20]

--parts and --instances pick what is measured (all of it by default):
``--parts idle --instances ""`` measures only the two idle cores against
supervisord, which is quick enough to run while working on the idle core.

Everything is started the way a service manager starts it (`nodekeeper run
--config …`, `supervisord -c …`), and every comparison comes from the same
run, so background load hits both sides alike:

  idle CPU      CPU seconds of the supervising process over --idle seconds
                (on Linux summed over its threads in nanoseconds),
                all targets measured in the same window: nodekeeper with
                health checks (every 30 s, the default), without, and
                supervisord, each running the demo node (one log line a
                second). Goals: <= supervisord's with health checks,
                <= 0.5x without.
  cold start    from the supervisor's exec to the node's first instruction
                (a C node stamps CLOCK_MONOTONIC), median of --starts.
  status        wall time of `nodekeeper status --config …` against
                `supervisorctl -c … status`, median of --calls.
  instances     1, 5 and 20 instances, each with one idle C node, served
                by one core process (`run --config A --config B ...`) and
                by a core each, against one supervisord running 1, 5 and 20
                such programs: total RSS (and PSS, which counts shared pages
                once) and idle CPU in the same window. Goal: <= 2x at 20
                (one core).

Not a pytest module: it prints a table and never asserts.
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

from tests.bench import native
from tests.bench.summary import record
from tests.helpers import REPO, demo_node_command, free_port, to_toml, wait_until

SUPERVISORD = Path(sys.executable).with_name("supervisord")
SUPERVISORCTL = Path(sys.executable).with_name("supervisorctl")
SETTLE = 10.0


def nodekeeper_command() -> list[str]:
    """The nodekeeper build measured: the venv install.

    Hook for the self-contained bundle (issue 10): NK_BENCH_BUNDLE names
    its `nodekeeper` executable and replaces the venv's.
    """
    bundle = os.environ.get("NK_BENCH_BUNDLE")
    return [bundle] if bundle else [str(Path(sys.executable).with_name("nodekeeper"))]


@dataclass
class Target:
    """One supervising process (a core, or supervisord) and how to stop it."""

    name: str
    process: subprocess.Popen[bytes]
    nodes: int = 1  # how many nodes it runs once started

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_core(root: Path, name: str, command: list[str], health_port: int | None) -> Target:
    conf = core_config(root, name, command, health_port)
    proc = subprocess.Popen(
        [*nodekeeper_command(), "run", "--config", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    return Target(name, proc)


def start_shared_core(root: Path, name: str, command: list[str], count: int) -> Target:
    """One core process serving ``count`` instances (`run --config A --config B ...`)."""
    args = [*nodekeeper_command(), "run"]
    for k in range(count):
        args += ["--config", str(core_config(root / name, f"{name}-{k}", command, None))]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    return Target(name, proc, nodes=count)


def core_config(root: Path, name: str, command: list[str], health_port: int | None) -> Path:
    work = root / name
    work.mkdir(parents=True)
    node: dict[str, object] = {"command": command}
    if health_port is not None:
        node["health_url"] = f"http://127.0.0.1:{health_port}/api/sno"
    config = {
        "instance": name,
        "node": node,
        # Update checks (every 12 h, the first within startup_delay) stay out
        # of the window: this measures supervision and capture.
        "updates": {"enabled": False, "startup_delay": "1h"},
        "logs": {"dir": str(work / "logs")},
        "paths": {"data_dir": str(work / "data"), "socket": str(work / "nk.sock")},
    }
    conf = work / "nodekeeper.toml"
    conf.write_text(to_toml(config))
    return conf


def supervisord_conf(work: Path, programs: dict[str, list[str]]) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    sock = work / "sv.sock"
    text = (
        f"[unix_http_server]\nfile={sock}\n\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
        f"[supervisorctl]\nserverurl=unix://{sock}\n\n"
        f"[supervisord]\nnodaemon=true\nlogfile={work}/supervisord.log\n"
        f"pidfile={work}/supervisord.pid\nchildlogdir={work}\n"
    )
    for name, command in programs.items():
        text += (
            f"\n[program:{name}]\ncommand={' '.join(command)}\ndirectory={REPO}\n"
            f"autorestart=true\nstartsecs=1\nstdout_logfile={work}/{name}.log\n"
            f"stderr_logfile={work}/{name}.err\n"
        )
    conf = work / "supervisord.conf"
    conf.write_text(text)
    return conf


def start_supervisord(root: Path, name: str, programs: dict[str, list[str]]) -> Target:
    conf = supervisord_conf(root / name, programs)
    proc = subprocess.Popen(
        [str(SUPERVISORD), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    return Target(name, proc, len(programs))


def children_count(target: Target) -> int:
    try:
        return len(psutil.Process(target.process.pid).children())
    except psutil.NoSuchProcess:
        return 0


@dataclass(frozen=True)
class Usage:
    cpu: float
    rss_mib: float
    pss_mib: float


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time of a process: on Linux the nanosecond sum over its threads.

    user + system time come in 10 ms ticks, too coarse for an idle core
    (0.07 s against 0.08 s in five minutes is one tick a minute); a thread
    that ends within the window takes its share with it, which no idle
    supervisor here does.
    """
    tasks = Path(f"/proc/{process.pid}/task")
    if tasks.is_dir():
        total = 0
        for task in tasks.iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # the thread ended meanwhile
        return total / 1e9
    t = process.cpu_times()
    return float(t.user + t.system)


def usage(pids: list[int]) -> list[tuple[float, float, float]]:
    out = []
    for pid in pids:
        p = psutil.Process(pid)
        mem = p.memory_full_info()
        out.append((cpu_seconds(p), mem.rss / 2**20, getattr(mem, "pss", mem.rss) / 2**20))
    return out


def idle_window(groups: dict[str, list[Target]], seconds: float) -> dict[str, Usage]:
    """CPU of every group over the same window; memory at its end."""
    pids = {name: [t.process.pid for t in ts] for name, ts in groups.items()}
    before = {name: usage(p) for name, p in pids.items()}
    time.sleep(seconds)
    after = {name: usage(p) for name, p in pids.items()}
    result = {}
    for name in groups:
        cpu = sum(a[0] - b[0] for a, b in zip(after[name], before[name], strict=True))
        result[name] = Usage(cpu, sum(a[1] for a in after[name]), sum(a[2] for a in after[name]))
    return result


def measure_idle(
    root: Path, tools: native.Native, seconds: float, instances: list[int]
) -> dict[str, Usage]:
    groups: dict[str, list[Target]] = {}
    port_health, port_bare, port_sv = free_port(), free_port(), free_port()

    def demo(port: int, marker: str) -> list[str]:
        return demo_node_command(
            "run", "--port", str(port), "--pid-file", str(root / marker), "--log-rate", "1"
        )

    try:
        groups["nk health"] = [
            start_core(root, "health", demo(port_health, "health.pid"), port_health)
        ]
        groups["nk bare"] = [start_core(root, "bare", demo(port_bare, "bare.pid"), None)]
        groups["sv demo"] = [start_supervisord(root, "sv-demo", {"node": demo(port_sv, "sv.pid")})]
        for n in instances:
            groups[f"nk x{n}"] = [
                start_core(root, f"i{n}-{k}", [str(tools.idle)], None) for k in range(n)
            ]
            groups[f"nk shared x{n}"] = [start_shared_core(root, f"s{n}", [str(tools.idle)], n)]
            programs = {f"node{k}": [str(tools.idle)] for k in range(n)}
            groups[f"sv x{n}"] = [start_supervisord(root, f"sv-{n}", programs)]
        every = [t for ts in groups.values() for t in ts]
        wait_until(lambda: all(children_count(t) >= t.nodes for t in every), 120, "every node")
        time.sleep(SETTLE)  # start-up work (imports, first status write) settles
        return idle_window(groups, seconds)
    finally:
        for ts in groups.values():
            for t in ts:
                t.stop()


def cold_starts(root: Path, tools: native.Native, runs: int) -> tuple[list[float], list[float]]:
    nk: list[float] = []
    sv: list[float] = []
    for i in range(runs):
        for kind, out in (("nk", nk), ("sv", sv)):
            stamp = root / f"stamp-{kind}-{i}"
            command = [str(tools.stamp), str(stamp)]
            t0 = time.monotonic()
            if kind == "nk":
                target = start_core(root, f"cold-{i}", command, None)
            else:
                target = start_supervisord(root, f"cold-sv-{i}", {"node": command})
            try:
                wait_until(stamp.exists, 60, "the node", 0.002)
                out.append(float(stamp.read_text()) - t0)
            finally:
                target.stop()
    return nk, sv


def status_calls(root: Path, tools: native.Native, calls: int) -> tuple[list[float], list[float]]:
    core = start_core(root, "status", [str(tools.idle)], None)
    sv = start_supervisord(root, "sv-status", {"node": [str(tools.idle)]})
    conf_nk = root / "status" / "nodekeeper.toml"
    conf_sv = root / "sv-status" / "supervisord.conf"
    nk_cmd = [*nodekeeper_command(), "status", "--config", str(conf_nk)]
    sv_cmd = [str(SUPERVISORCTL), "-c", str(conf_sv), "status"]
    try:
        wait_until(
            lambda: subprocess.run(nk_cmd, capture_output=True).returncode == 0, 60, "the core"
        )
        wait_until(
            lambda: subprocess.run(sv_cmd, capture_output=True).returncode == 0, 60, "supervisord"
        )
        nk: list[float] = []
        svt: list[float] = []
        for _ in range(calls):
            for cmd, out in ((nk_cmd, nk), (sv_cmd, svt)):
                t0 = time.monotonic()
                subprocess.run(cmd, capture_output=True, check=True)
                out.append(time.monotonic() - t0)
        return nk, svt
    finally:
        core.stop()
        sv.stop()


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "inf"


PARTS = ["idle", "cold", "status"]


def names_of(allowed: list[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown part {unknown[0]!r}")
        return names

    return parse


def counts(text: str) -> list[int]:
    try:
        values = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of counts: {text!r}") from None
    if any(n < 1 for n in values):
        raise argparse.ArgumentTypeError("instance counts start at 1")
    return values


def span(values: list[float], scale: float = 1.0) -> str:
    return f"{min(values) * scale:.0f}-{max(values) * scale:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=300.0, help="idle window in seconds")
    parser.add_argument("--starts", type=int, default=5, help="cold starts per supervisor")
    parser.add_argument("--calls", type=int, default=10, help="status calls per supervisor")
    parser.add_argument(
        "--parts",
        type=names_of(PARTS),
        default=PARTS,
        help=f"comma-separated parts to measure, of {','.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--instances",
        type=counts,
        default=[1, 5, 20],
        help='comma-separated instance counts for the idle window (default 1,5,20; "" for none)',
    )
    args = parser.parse_args()
    instances: list[int] = args.instances if "idle" in args.parts else []
    cold_nk: list[float] = []
    cold_sv: list[float] = []
    st_nk: list[float] = []
    st_sv: list[float] = []
    idle: dict[str, Usage] = {}
    with tempfile.TemporaryDirectory(prefix="nk-bench-product-") as tmp:
        root = Path(tmp)
        tools = native.build(root / "native")
        if "cold" in args.parts:
            print("cold starts ...", file=sys.stderr, flush=True)
            cold_nk, cold_sv = cold_starts(root, tools, args.starts)
        if "status" in args.parts:
            print("status calls ...", file=sys.stderr, flush=True)
            st_nk, st_sv = status_calls(root, tools, args.calls)
        if "idle" in args.parts:
            print(f"idle window of {args.idle:g} s ...", file=sys.stderr, flush=True)
            idle = measure_idle(root, tools, args.idle, instances)

    print(f"\n{'metric':34}{'nodekeeper':>12}{'supervisord':>13}{'ratio':>7}  goal")
    rows = []
    if idle:
        rows = [
            (
                f"idle CPU s / {args.idle:g} s, health on",
                idle["nk health"].cpu,
                idle["sv demo"].cpu,
                "<= 1",
            ),
            (
                f"idle CPU s / {args.idle:g} s, health off",
                idle["nk bare"].cpu,
                idle["sv demo"].cpu,
                "<= 0.5",
            ),
        ]
    for label, a, b, goal in rows:
        print(f"{label:34}{a:>12.3f}{b:>13.3f}{ratio(a, b):>7}  {goal}")
        record(label, f"{a:.3f}", f"{b:.3f}", a / b if b else None, goal)
    if cold_nk:
        print_cold_starts(cold_nk, cold_sv)
    if st_nk:
        print_status_calls(st_nk, st_sv)
    for n in instances:
        for kind, how in (("nk shared", "one core"), ("nk", "a core each")):
            goal = "<= 2" if n == 20 and kind == "nk shared" else ""
            print_instances(n, how, idle[f"{kind} x{n}"], idle[f"sv x{n}"], args.idle, goal)
    return 0


def print_cold_starts(cold_nk: list[float], cold_sv: list[float]) -> None:
    med_nk, med_sv = statistics.median(cold_nk), statistics.median(cold_sv)
    record("cold start ms", f"{med_nk * 1000:.0f}", f"{med_sv * 1000:.0f}", med_nk / med_sv, "<= 1")
    print(
        f"{'cold start ms (median)':34}{med_nk * 1000:>12.0f}{med_sv * 1000:>13.0f}"
        f"{ratio(med_nk, med_sv):>7}  <= 1   range {span(cold_nk, 1000)} / {span(cold_sv, 1000)}"
    )


def print_status_calls(st_nk: list[float], st_sv: list[float]) -> None:
    med_nk, med_sv = statistics.median(st_nk), statistics.median(st_sv)
    record(
        "status round trip ms",
        f"{med_nk * 1000:.0f}",
        f"{med_sv * 1000:.0f}",
        med_nk / med_sv,
        "<= 1",
    )
    print(
        f"{'status round trip ms (median)':34}{med_nk * 1000:>12.0f}{med_sv * 1000:>13.0f}"
        f"{ratio(med_nk, med_sv):>7}  <= 1   range {span(st_nk, 1000)} / {span(st_sv, 1000)}"
    )


def print_instances(n: int, how: str, nk: Usage, sv: Usage, window: float, goal: str) -> None:
    record(
        f"{n} instances, {how}: RSS MiB / idle CPU s (ratio: RSS)",
        f"{nk.rss_mib:.0f} / {nk.cpu:.2f} (CPU {ratio(nk.cpu, sv.cpu)}x)",
        f"{sv.rss_mib:.0f} / {sv.cpu:.2f}",
        nk.rss_mib / sv.rss_mib,
        goal,
    )
    print(
        f"{f'{n:>2} instances, {how}: RSS MiB':34}{nk.rss_mib:>12.0f}{sv.rss_mib:>13.0f}{ratio(nk.rss_mib, sv.rss_mib):>7}  {goal}"
    )
    print(
        f"{'             PSS MiB':34}{nk.pss_mib:>12.0f}{sv.pss_mib:>13.0f}{ratio(nk.pss_mib, sv.pss_mib):>7}"
    )
    print(
        f"{f'             idle CPU s / {window:g} s':34}{nk.cpu:>12.3f}{sv.cpu:>13.3f}{ratio(nk.cpu, sv.cpu):>7}  {goal}"
    )


if __name__ == "__main__":
    sys.exit(main())
