"""Log capture throughput as users run it: `nodekeeper run` against its peers.

    .venv/bin/python -m tests.bench.bench_logs [--bytes 300e6] [--runs 3] [--only ...]

A writer compiled from C at start-up (tests/bench/native.py: numbered
100-byte lines in 64 KiB writes, then it closes its output and sleeps)
feeds, one after the other:

  cat > file        the floor: one pipe, one file, no rotation
  nodekeeper        `nodekeeper run --config …` (the installed command, as a
                    service runs it), rotation at 10 MiB, gzip on
  supervisord       stdout_logfile, rotation at 10 MiB (it cannot compress)
  svlogd !gzip      rotation at 10 MiB, each archive piped through gzip

Time runs from the writer's first line until every line is in a file and,
where there is compression, every archive is compressed. CPU is the
capturing process's own user+system seconds at that moment (svlogd's
includes its gzip children), shown per GB captured. "lost" counts the
numbers 0..N-1 that no file holds (a native checker reads every file,
gzip included); "dup/bad" counts repeated or damaged lines. Each capturer
runs --runs times in turn (round-robin, after a sync, so background load
hits all alike); the table shows the median and the range of the ratio to
`cat > file` of the same round.

The last column is the in-process figure of the earlier benchmark
(LogCapture in a Python host fed by a Python writer, until compressed),
kept for comparison only: no user runs it that way.

Not a pytest module: it prints a table and never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import struct
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
from tests.helpers import REPO, to_toml

MiB = 1024 * 1024
ROTATE = 10 * MiB
SUPERVISORD = Path(sys.executable).with_name("supervisord")
POLL = 0.01
TIMEOUT = 3600.0


def products() -> list[tuple[str, list[str]]]:
    """The nodekeeper builds to measure, each a column of its own.

    The venv install is always measured. Hook for the self-contained
    bundle (issue 10): set NK_BENCH_BUNDLE to the bundle's `nodekeeper`
    executable and it is measured the same way, as "nodekeeper (bundle)".
    """
    found = [("nodekeeper", [str(Path(sys.executable).with_name("nodekeeper"))])]
    bundle = os.environ.get("NK_BENCH_BUNDLE")
    if bundle:
        found.append(("nk bundle", [bundle]))
    return found


@dataclass(frozen=True)
class Result:
    name: str
    seconds: float
    cpu: float
    lines_written: int
    lost: int
    bad: int
    note: str = ""


def _finish(
    name: str,
    tools: native.Native,
    report: native.WriterReport,
    files: list[Path],
    seconds: float,
    cpu: float,
    note: str = "",
) -> Result:
    count = native.count_numbered(tools.check, report.lines, sorted(files))
    return Result(
        name,
        seconds,
        cpu,
        report.lines,
        report.lines - count.unique,
        count.duplicates + count.foreign,
        note,
    )


def _wait_report(path: Path, deadline: float) -> native.WriterReport:
    while not path.exists() or not path.read_text().endswith("\n"):
        if time.monotonic() > deadline:
            raise RuntimeError("the writer never finished")
        time.sleep(POLL)
    return native.WriterReport.read(path)


def _gzip_size(path: Path) -> int:
    """Uncompressed size from the gzip trailer (mod 2**32; archives are 10 MiB)."""
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return int(struct.unpack("<I", f.read(4))[0])


def run_cat(tools: native.Native, work: Path, nbytes: int) -> Result:
    out = work / "cat.log"
    report_path = work / "report"
    with open(out, "wb") as sink:
        writer = subprocess.Popen(
            [str(tools.writer), str(nbytes), str(report_path)], stdout=subprocess.PIPE
        )
        assert writer.stdout is not None
        cat = subprocess.Popen(["cat"], stdin=writer.stdout, stdout=sink)
        writer.stdout.close()
        _, _, usage = os.wait4(cat.pid, 0)
        cat.returncode = 0
        done = time.monotonic()
    report = _wait_report(report_path, done + 60)
    writer.kill()
    writer.wait()
    return _finish(
        "cat > file", tools, report, [out], done - report.start, usage.ru_utime + usage.ru_stime
    )


def _node_log_state(logs: Path, instance: str, nbytes: int) -> tuple[bool, bool]:
    """(every byte is in the node's log family, and no archive is left uncompressed)."""
    try:
        return _node_log_scan(logs, instance, nbytes)
    except FileNotFoundError:
        return False, False  # renamed or compressed while we looked: look again


def _node_log_scan(logs: Path, instance: str, nbytes: int) -> tuple[bool, bool]:
    total = 0
    pending = False
    for entry in os.scandir(logs):
        name = entry.name
        if not name.startswith(instance):
            continue  # the core's own log is nodekeeper-<instance>…
        if name.endswith(".log.gz"):
            total += _gzip_size(Path(entry.path))
        elif name.endswith(".log"):
            total += entry.stat().st_size
            pending = pending or name != f"{instance}.log"
        else:
            pending = True  # .gz.tmp: compression in progress
    on_disk = total >= nbytes
    return on_disk, on_disk and not pending


def run_nodekeeper(name: str, command: list[str]) -> Callable[[native.Native, Path, int], Result]:
    def run(tools: native.Native, work: Path, nbytes: int) -> Result:
        logs = work / "logs"
        report_path = work / "report"
        config = {
            "instance": "bench",
            "node": {"command": [str(tools.writer), str(nbytes), str(report_path)]},
            "updates": {"enabled": False, "startup_delay": "1h"},
            "logs": {"dir": str(logs), "max_file_size": "10MiB", "max_total_size": "1TiB"},
            "paths": {"data_dir": str(work / "data"), "socket": str(work / "nk.sock")},
        }
        conf = work / "nodekeeper.toml"
        conf.write_text(to_toml(config))
        core = subprocess.Popen(
            [*command, "run", "--config", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
        )
        try:
            proc = psutil.Process(core.pid)
            deadline = time.monotonic() + TIMEOUT
            report = _wait_report(report_path, deadline)
            on_disk_at = None
            while True:
                on_disk, compressed = _node_log_state(logs, "bench", report.bytes)
                if on_disk and on_disk_at is None:
                    on_disk_at = time.monotonic()
                if compressed:
                    break
                if time.monotonic() > deadline or core.poll() is not None:
                    raise RuntimeError(f"{name} did not capture every line")
                time.sleep(POLL)
            done = time.monotonic()
            times = proc.cpu_times()
        finally:
            core.send_signal(signal.SIGTERM)
            core.wait(60)
        files = [p for p in logs.iterdir() if p.name.startswith("bench")]
        assert on_disk_at is not None
        note = f"{nbytes / 1e6 / (on_disk_at - report.start):.0f} MB/s until on disk"
        return _finish(
            name, tools, report, files, done - report.start, times.user + times.system, note
        )

    return run


def run_supervisord(tools: native.Native, work: Path, nbytes: int) -> Result:
    logs = work / "sv"
    logs.mkdir()
    report_path = work / "report"
    conf = work / "supervisord.conf"
    conf.write_text(
        "[supervisord]\n"
        f"logfile={work / 'supervisord.log'}\npidfile={work / 'supervisord.pid'}\n"
        f"childlogdir={work}\nnodaemon=true\n\n"
        "[program:writer]\n"
        f"command={tools.writer} {nbytes} {report_path}\n"
        "autorestart=false\nstartsecs=0\nstartretries=0\n"
        f"stdout_logfile={logs / 'writer.log'}\n"
        f"stdout_logfile_maxbytes={ROTATE}\nstdout_logfile_backups=100000\n"
        "redirect_stderr=true\n"
    )
    sup = subprocess.Popen(
        [str(SUPERVISORD), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        proc = psutil.Process(sup.pid)
        deadline = time.monotonic() + TIMEOUT
        report = _wait_report(report_path, deadline)
        while sum(p.stat().st_size for p in logs.iterdir()) < report.bytes:
            if time.monotonic() > deadline:
                break  # lines were lost: the count below says how many
            time.sleep(POLL)
        done = time.monotonic()
        times = proc.cpu_times()
    finally:
        sup.send_signal(signal.SIGTERM)  # supervisord stops its program too
        sup.wait(60)
    return _finish(
        "supervisord",
        tools,
        report,
        list(logs.iterdir()),
        done - report.start,
        times.user + times.system,
    )


def run_svlogd(tools: native.Native, work: Path, nbytes: int) -> Result:
    logs = work / "svlogd"
    logs.mkdir()
    (logs / "config").write_text(f"s{ROTATE}\nn100000\n!gzip\n")
    report_path = work / "report"
    writer = subprocess.Popen(
        [str(tools.writer), str(nbytes), str(report_path)], stdout=subprocess.PIPE
    )
    assert writer.stdout is not None
    svlogd = subprocess.Popen(["svlogd", str(logs)], stdin=writer.stdout)
    writer.stdout.close()
    _, _, usage = os.wait4(svlogd.pid, 0)  # includes its gzip processors
    svlogd.returncode = 0
    done = time.monotonic()
    report = _wait_report(report_path, done + 60)
    writer.kill()
    writer.wait()
    files = [p for p in logs.iterdir() if p.name == "current" or p.name.startswith("@")]
    return _finish(
        "svlogd !gzip", tools, report, files, done - report.start, usage.ru_utime + usage.ru_stime
    )


def run_in_process(work: Path, nbytes: int) -> float:
    """MB/s of LogCapture in a Python host (the earlier benchmark), until compressed."""
    host = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.logs.capture_host",
            "--dir",
            str(work / "logs"),
            "--bytes",
            str(nbytes),
            "--max-file-size",
            str(ROTATE),
            "--wait-compression",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(host.stdout.strip().splitlines()[-1])
    return nbytes / 1e6 / float(data["compressed_s"])


@dataclass(frozen=True)
class Row:
    name: str
    mbps: float
    ratios: list[float]
    cpu_per_gb: float
    lost: int
    bad: int
    note: str


def measure(
    nbytes: int, runs: int, only: set[str], in_process: bool
) -> tuple[list[Row], float | None]:
    runners: list[tuple[str, Callable[[native.Native, Path, int], Result]]] = [("cat", run_cat)]
    runners += [(name, run_nodekeeper(name, cmd)) for name, cmd in products()]
    runners.append(("supervisord", run_supervisord))
    if shutil.which("svlogd"):
        runners.append(("svlogd", run_svlogd))
    else:
        print("svlogd not installed (Debian package runit): skipped", file=sys.stderr)
    if only:
        runners = [(n, r) for n, r in runners if n in only or n == "cat"]
    root = Path(tempfile.mkdtemp(prefix="nk-bench-logs-"))
    results: dict[str, list[Result]] = {n: [] for n, _ in runners}
    inproc: list[float] = []
    try:
        tools = native.build(root / "native")
        for i in range(runs):
            for name, runner in runners:
                work = root / f"{name}-{i}"
                work.mkdir()
                print(f"round {i + 1}/{runs}: {name} ...", file=sys.stderr, flush=True)
                os.sync()
                results[name].append(runner(tools, work, nbytes))
                shutil.rmtree(work)
            if in_process:
                work = root / f"inproc-{i}"
                work.mkdir()
                os.sync()
                inproc.append(run_in_process(work, nbytes))
                shutil.rmtree(work)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = []
    for name, _ in runners:
        rs = results[name]
        ratios = [cat.seconds / r.seconds for cat, r in zip(results["cat"], rs, strict=True)]
        rows.append(
            Row(
                rs[0].name,
                statistics.median(nbytes / 1e6 / r.seconds for r in rs),
                ratios,
                statistics.median(r.cpu for r in rs) / (nbytes / 1e9),
                max(r.lost for r in rs),
                max(r.bad for r in rs),
                sorted(rs, key=lambda r: r.seconds)[len(rs) // 2].note,
            )
        )
    return rows, (statistics.median(inproc) if inproc else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=float, default=300e6, help="bytes per run (default 300e6)")
    parser.add_argument("--runs", type=int, default=3, help="rounds; median and range shown")
    parser.add_argument("--only", default="", help="comma-separated subset, e.g. nodekeeper,svlogd")
    parser.add_argument("--no-in-process", action="store_true", help="skip the in-process column")
    args = parser.parse_args()
    nbytes = int(args.bytes)
    only = set(filter(None, args.only.split(",")))
    rows, inproc = measure(nbytes, args.runs, only, not args.no_in_process)
    cat_mbps = rows[0].mbps
    print(
        f"\n{nbytes / 1e6:.0f} MB of numbered 100-byte lines from a C writer, rotation every 10 MiB\n"
    )
    print(
        f"{'capture':<16}{'MB/s':>7}{'vs cat':>8}{'range':>13}{'CPU s/GB':>10}{'lost':>8}{'dup/bad':>9}  in-process"
    )
    for row in rows:
        ratio = statistics.median(row.ratios)
        span = f"{min(row.ratios):.2f}-{max(row.ratios):.2f}"
        extra = row.note
        if row.name == "nodekeeper" and inproc is not None:
            extra = f"{inproc:.0f} MB/s ({inproc / cat_mbps:.2f}x); {extra}"
        print(
            f"{row.name:<16}{row.mbps:>7.0f}{ratio:>8.2f}{span:>13}{row.cpu_per_gb:>10.2f}"
            f"{row.lost:>8}{row.bad:>9}  {extra}"
        )
    svlogd = next((r for r in rows if r.name.startswith("svlogd")), None)
    for row in rows[1:]:
        if row.name.startswith("svlogd") or row.name == "supervisord":
            continue
        record(
            f"log capture {nbytes / 1e6:.0f} MB, rotation + gzip ({row.name})",
            f"{statistics.median(row.ratios):.2f}x cat ({min(row.ratios):.2f}-{max(row.ratios):.2f}),"
            f" {row.lost} lost, {row.cpu_per_gb:.1f} CPU s/GB",
            f"svlogd {statistics.median(svlogd.ratios):.2f}x, {svlogd.cpu_per_gb:.1f} CPU s/GB"
            if svlogd
            else "",
            statistics.median(row.ratios),
            ">= 0.9x cat, 0 lost",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
