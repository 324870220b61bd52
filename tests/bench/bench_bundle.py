"""Benchmark `bundle`: the self-contained bundle vs the venv install of the same core.

    .venv/bin/python -m tests.bench.bench_bundle [--starts 5] [--idle 10]

(a) size on disk: the unpacked bundle and its tarball vs what the venv
install needs (nodekeeper and its dependencies' installed files, and the
interpreter's standard library they run on); (b) cold start, from the
process start to the node spawned, median over --starts starts (a node
that records when it starts, and nothing else); (c) idle RSS of the core
after --idle s with its node running. One run, one table with ratios.
The bundle is built (or reused) by scripts/build.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from importlib import metadata
from pathlib import Path

import psutil

from tests.helpers import REPO, to_toml, wait_until


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def requirement_closure(name: str) -> set[str]:
    """``name`` and every distribution it needs (no extras), as installed here."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        key = current.lower().replace("_", "-")
        if key in seen:
            continue
        try:
            dist = metadata.distribution(current)
        except metadata.PackageNotFoundError:
            continue
        seen.add(key)
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            todo.append(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0])
    return seen


def venv_size() -> tuple[int, int]:
    """Bytes of installed files of nodekeeper's closure, and of the standard library."""
    total = 0
    for name in requirement_closure("nodekeeper"):
        dist = metadata.distribution(name)
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                total += path.stat().st_size
    # The standard library as an OS package ships it: no third-party packages, no tests.
    root = Path(sysconfig.get_paths()["stdlib"])
    stdlib = sum(
        folder_size(p) if p.is_dir() else p.stat().st_size
        for p in root.iterdir()
        if p.name not in ("site-packages", "test", "idlelib", "tkinter", "turtledemo")
    )
    return total, stdlib


def core_argv(bundle: Path | None) -> list[str]:
    return [str(bundle)] if bundle else [sys.executable, "-m", "nodekeeper.core"]


def start_once(argv: list[str], root: Path, idle: float) -> tuple[float, int]:
    """Seconds from process start to node spawn, and the core's RSS after ``idle`` s."""
    stamp = root / "node-started"
    stamp.unlink(missing_ok=True)
    marker = str(root / "bench-node")
    config = root / "bench.toml"
    config.write_text(
        to_toml(
            {
                "instance": "bench",
                "node": {
                    "command": [
                        "/bin/sh",
                        "-c",
                        f"date +%s.%N > {stamp}; exec sleep 3600",
                        marker,
                    ],
                    "stop_timeout": "2s",
                },
                "updates": {
                    "enabled": False,
                    "source": "storj",
                    "url": "http://127.0.0.1:9/",
                    "allow_http": True,
                },
                "logs": {"dir": str(root / "logs")},
                "paths": {"data_dir": str(root / "data"), "socket": str(root / "bench.sock")},
            }
        )
    )
    started = time.time()
    core = subprocess.Popen(
        [*argv, "run", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
    )
    try:
        wait_until(lambda: stamp.is_file() and stamp.read_text().strip(), 60, "the node")
        spawned = float(stamp.read_text())
        rss = 0
        if idle:
            time.sleep(idle)
            rss = psutil.Process(core.pid).memory_info().rss
        return spawned - started, rss
    finally:
        core.send_signal(signal.SIGTERM)
        try:
            core.wait(30)
        except subprocess.TimeoutExpired:
            core.kill()
            core.wait()


def measure(bundle: Path | None, starts: int, idle: float) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="nk-bench-bundle-") as tmp:
        root = Path(tmp)
        start_once(core_argv(bundle), root, 0)  # warm the page cache: process start, not disk
        times = [start_once(core_argv(bundle), root, 0)[0] for _ in range(starts)]
        _, rss = start_once(core_argv(bundle), root, idle)
    return statistics.median(times), rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()

    subprocess.run([str(REPO / "scripts" / "build"), "core"], check=True, stdout=subprocess.DEVNULL)
    tarball = next(
        t for t in sorted((REPO / "dist").glob("nodekeeper-*.tar.gz")) if "-tray-" not in t.name
    )
    with tempfile.TemporaryDirectory(prefix="nk-bench-unpacked-") as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="tar")
        top = Path(tmp) / tarball.name.removesuffix(".tar.gz")
        bundle_bytes = folder_size(top)
        bundle_start, bundle_rss = measure(top / "nodekeeper", args.starts, args.idle)
    venv_start, venv_rss = measure(None, args.starts, args.idle)
    packages, stdlib = venv_size()

    mib = 1024 * 1024
    rows = [
        (
            "size on disk (MiB)",
            f"{bundle_bytes / mib:.1f} (tarball {tarball.stat().st_size / mib:.1f})",
            f"{(packages + stdlib) / mib:.1f} ({packages / mib:.1f} packages + {stdlib / mib:.1f} stdlib)",
            bundle_bytes / (packages + stdlib),
        ),
        (
            f"cold start → node spawned (median of {args.starts}, ms)",
            f"{bundle_start * 1000:.0f}",
            f"{venv_start * 1000:.0f}",
            bundle_start / venv_start,
        ),
        (
            f"idle RSS after {args.idle:g} s (MiB)",
            f"{bundle_rss / mib:.1f}",
            f"{venv_rss / mib:.1f}",
            bundle_rss / venv_rss,
        ),
    ]
    print("| measure | bundle | venv install | bundle / venv |")
    print("|---|---|---|---|")
    for name, bundle_value, venv_value, ratio in rows:
        print(f"| {name} | {bundle_value} | {venv_value} | {ratio:.2f}× |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
