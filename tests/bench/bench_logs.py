"""Log capture throughput: nodekeeper against `cat > file`, supervisord and svlogd.

    .venv/bin/python -m tests.bench.bench_logs [--bytes N] [--keep]

The same writer (numbered 100-byte lines to stdout, tests/integration/logs/
numbered_writer.py) feeds each capturer in turn:

  (a) cat > file                 the floor: one pipe, one file, no rotation
  (b) nodekeeper LogCapture      rotation at 10 MiB + background gzip
  (c) supervisord                stdout_logfile, rotation at 10 MiB (no compression)
  (d) svlogd                     rotation at 10 MiB with a `!gzip` processor

Each capturer runs --runs times (after a sync) and the median run is shown.
MB/s counts from the writer's start until every line is in a file; CPU is
the capturing process's own user+system seconds (svlogd's includes its gzip
processors; nodekeeper's includes its compression thread, measured after it
finished). "lost" is lines written minus lines found in the files. Not a
pytest module: it prints a table and never asserts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
WRITER = REPO / "tests" / "integration" / "logs" / "numbered_writer.py"
SUPERVISORD = Path(sys.executable).with_name("supervisord")
MiB = 1024 * 1024
ROTATE = 10 * MiB


@dataclass(frozen=True)
class Result:
    name: str
    seconds: float
    cpu: float
    lines_written: int
    lines_found: int
    note: str = ""


FAST_WRITER = False


def writer_cmd(nbytes: int, report: Path) -> list[str]:
    fast = ["--repeat"] if FAST_WRITER else []
    return [sys.executable, str(WRITER), "--bytes", str(nbytes), "--report", str(report), *fast]


def count_lines(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        if path.suffix == ".gz" or path.name.endswith(".s"):
            f = gzip.open(path, "rb")
        else:
            f = open(path, "rb")
        with f:
            while block := f.read(4 * MiB):
                total += block.count(b"\n")
    return total


def wait_usage(pid: int) -> float:
    _, _, usage = os.wait4(pid, 0)
    return usage.ru_utime + usage.ru_stime


def run_cat(work: Path, nbytes: int) -> Result:
    out = work / "cat.log"
    report = work / "report.json"
    start = time.monotonic()
    with open(out, "wb") as sink:
        writer = subprocess.Popen(writer_cmd(nbytes, report), stdout=subprocess.PIPE)
        cat = subprocess.Popen(["cat"], stdin=writer.stdout, stdout=sink)
        assert writer.stdout is not None
        writer.stdout.close()
        writer.wait()
        cpu = wait_usage(cat.pid)
    seconds = time.monotonic() - start
    written = json.loads(report.read_text())["lines"]
    return Result("cat > file", seconds, cpu, written, count_lines([out]))


def run_nodekeeper(work: Path, nbytes: int) -> Result:
    logs = work / "logs"
    host = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.logs.capture_host",
            "--dir",
            str(logs),
            "--bytes",
            str(nbytes),
            "--max-file-size",
            str(ROTATE),
            "--wait-compression",
            *(["--repeat"] if FAST_WRITER else []),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(host.stdout.strip().splitlines()[-1])
    files = sorted(logs.iterdir())
    assert not [p for p in files if p.name.endswith(".tmp")]
    note = f"gzip done after {data['compressed_s']:.1f} s, {data['status']['bytes'] / 1e6:.0f} MB on disk"
    return Result(
        "nodekeeper",
        data["elapsed_s"],
        data["capture_cpu_total_s"],
        data["lines"],
        count_lines(files),
        note,
    )


def run_supervisord(work: Path, nbytes: int) -> Result:
    logs = work / "sv"
    logs.mkdir()
    report = work / "report.json"
    conf = work / "supervisord.conf"
    conf.write_text(
        "[supervisord]\n"
        f"logfile={work / 'supervisord.log'}\npidfile={work / 'supervisord.pid'}\n"
        f"childlogdir={work}\nnodaemon=true\n\n"
        "[program:writer]\n"
        f"command={' '.join(writer_cmd(nbytes, report))}\n"
        "autorestart=false\nstartsecs=0\nstartretries=0\n"
        f"stdout_logfile={logs / 'writer.log'}\n"
        f"stdout_logfile_maxbytes={ROTATE}\nstdout_logfile_backups=100000\n"
        "redirect_stderr=true\n"
    )
    start = time.monotonic()
    sup = subprocess.Popen(
        [str(SUPERVISORD), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        proc = psutil.Process(sup.pid)
        while not report.exists():
            time.sleep(0.05)
        written_bytes = json.loads(report.read_text())["bytes"]

        def on_disk() -> int:
            return sum(p.stat().st_size for p in logs.iterdir())

        while on_disk() < written_bytes and time.monotonic() - start < 3600:
            time.sleep(0.02)
        seconds = time.monotonic() - start
        times = proc.cpu_times()
        cpu = times.user + times.system
    finally:
        sup.send_signal(signal.SIGTERM)  # supervisord stops its program too
        sup.wait(30)
    written = json.loads(report.read_text())["lines"]
    return Result("supervisord", seconds, cpu, written, count_lines(sorted(logs.iterdir())))


def run_svlogd(work: Path, nbytes: int) -> Result:
    logs = work / "svlogd"
    logs.mkdir()
    (logs / "config").write_text(f"s{ROTATE}\nn100000\n!gzip\n")
    report = work / "report.json"
    start = time.monotonic()
    writer = subprocess.Popen(writer_cmd(nbytes, report), stdout=subprocess.PIPE)
    svlogd = subprocess.Popen(["svlogd", str(logs)], stdin=writer.stdout)
    assert writer.stdout is not None
    writer.stdout.close()
    writer.wait()
    cpu = wait_usage(svlogd.pid)
    seconds = time.monotonic() - start
    written = json.loads(report.read_text())["lines"]
    files = [p for p in logs.iterdir() if p.name == "current" or p.name.startswith("@")]
    return Result("svlogd !gzip", seconds, cpu, written, count_lines(sorted(files)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=float, default=1e9, help="bytes per run (default 1e9)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--runs", type=int, default=3, help="runs per capturer; median shown")
    parser.add_argument("--only", default="", help="comma-separated subset, e.g. cat,nodekeeper")
    parser.add_argument(
        "--fast-writer",
        action="store_true",
        help="writer repeats one pre-built block (line numbers repeat): stresses the capturer",
    )
    args = parser.parse_args()
    global FAST_WRITER
    FAST_WRITER = args.fast_writer
    nbytes = int(args.bytes)
    runners: list[tuple[str, Callable[[Path, int], Result]]] = [
        ("cat", run_cat),
        ("nodekeeper", run_nodekeeper),
        ("supervisord", run_supervisord),
    ]
    if shutil.which("svlogd"):
        runners.append(("svlogd", run_svlogd))
    else:
        print("svlogd not installed (Debian package runit): skipped", file=sys.stderr)
    if args.only:
        wanted = set(args.only.split(","))
        runners = [(n, r) for n, r in runners if n in wanted or n == "cat"]
    results: list[Result] = []
    root = Path(tempfile.mkdtemp(prefix="nk-bench-logs-"))
    try:
        for name, runner in runners:
            runs: list[Result] = []
            for i in range(args.runs):
                work = root / f"{name}-{i}"
                work.mkdir()
                print(f"running {name} ({i + 1}/{args.runs}) ...", file=sys.stderr, flush=True)
                os.sync()  # start each run without the previous run's dirty pages
                runs.append(runner(work, nbytes))
                if not args.keep:
                    shutil.rmtree(work)
            runs.sort(key=lambda r: r.seconds)
            results.append(runs[len(runs) // 2])
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    base = results[0].seconds
    kind = "pre-built blocks" if FAST_WRITER else "freshly numbered lines"
    print(f"\n{nbytes / 1e6:.0f} MB of 100-byte lines ({kind}), rotation every 10 MiB\n")
    print(f"{'capture':<14}{'MB/s':>9}{'vs cat':>9}{'CPU s':>9}{'lost':>10}  notes")
    for r in results:
        mbps = nbytes / 1e6 / r.seconds
        lost = r.lines_written - r.lines_found
        print(f"{r.name:<14}{mbps:>9.0f}{base / r.seconds:>9.2f}{r.cpu:>9.2f}{lost:>10}  {r.note}")
    nk = next((r for r in results if r.name == "nodekeeper"), None)
    for r in results[2:] if nk else []:
        print(f"nodekeeper / {r.name}: {r.seconds / nk.seconds:.2f}x throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
