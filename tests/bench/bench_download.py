"""Benchmark `download`: nodekeeper's verified TUF download vs `curl -o`, both from nginx.

    .venv/bin/python -m tests.bench.bench_download [--sizes 100,1024] [--runs 3] [--dir DIR]

For each artifact size (MiB) it publishes a signed repository, serves it
with nginx on loopback and alternates, --runs times:
  * nodekeeper: a fresh process that refreshes TUF metadata, looks up the
    artifact and downloads it with streamed length + SHA-256 verification;
  * curl: `curl -s -o FILE URL` of the same artifact file.
Throughput is size / transfer time (nodekeeper: the download call, hash
included; curl: its own %{time_total}), median of the runs;
peak RSS is the child's ru_maxrss from wait4. Then `check`: requests and
bytes nginx served for one more TUF refresh when nothing changed.
Targets: throughput ratio >= 0.9, nodekeeper peak RSS < 60 MiB and the
same for every size, check = timestamp.json (+ the next-root probe).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.summary import record
from tests.fixtures.nginx import NginxServer
from tests.fixtures.releases import Publisher, now
from tests.helpers import REPO

MiB = 1 << 20

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from nodekeeper.core.update.sources.tuf import TufSource
url, root, data = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
start = time.perf_counter()
src = TufSource(url=url, trusted_root=root, metadata_dir=data / "tuf", process="storagenode", allow_http=True)
channel = src.fetch_channel()
info = src.artifact_info(channel.suggested.url, "linux", "amd64")
t0 = time.perf_counter()
path = src.download(info, data / "downloads", min_free_space=0)
t1 = time.perf_counter()
print(json.dumps({"transfer_s": t1 - t0, "total_s": t1 - start, "size": path.stat().st_size}))
"""


def _run_measured(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of a child process.

    Peak RSS is the kernel's VmHWM of the child, read until it exits (wait4's
    ru_maxrss would include the memory of the forking benchmark process).
    """
    out = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, cwd=cwd)
    peak_kib = 0
    status_file = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status_file.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kib = max(peak_kib, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {err.strip()}")
    out.seek(0)
    return wall, peak_kib / 1024, out.read().decode()


def bench_size(root: Path, size_mib: int, runs: int) -> dict[str, float]:
    pub = Publisher(root / "pub")
    raw = root / "artifact.zip"
    with open(raw, "wb") as handle:
        block = os.urandom(MiB)
        for i in range(size_mib):
            handle.write(block[i % 256 :] + block[: i % 256])
    pub.open().add_targets({"storagenode/9.0.0/linux-amd64.zip": raw}, now())
    pub.channel(suggested="9.0.0", rollout_percent=100.0)
    raw.unlink()
    server = NginxServer(pub.repo_dir, root / "nginx").start()
    try:
        artifact = next(pub.repo_dir.glob("targets/storagenode/9.0.0/*.zip"))
        art_url = server.url + str(artifact.relative_to(pub.repo_dir))
        nk_rates, curl_rates, nk_rss, curl_rss = [], [], [], []
        size = artifact.stat().st_size

        def nodekeeper(run: int) -> None:
            data = root / f"node{run}"
            _wall, rss, out = _run_measured(
                [sys.executable, "-c", _CHILD, server.url, str(pub.trusted_root), str(data)],
                cwd=REPO,
            )
            result = json.loads(out)
            assert result["size"] == size
            nk_rates.append(size / result["transfer_s"] / MiB)
            nk_rss.append(rss)
            shutil.rmtree(data / "downloads")
            os.sync()  # each contender starts with clean page cache writeback

        def curl(run: int) -> None:
            dest = root / "curl.out"
            _wall, rss, out = _run_measured(
                ["curl", "-s", "-f", "-o", str(dest), "-w", "%{time_total}", art_url]
            )
            assert dest.stat().st_size == size
            curl_rates.append(size / float(out) / MiB)
            curl_rss.append(rss)
            dest.unlink()
            os.sync()

        os.sync()
        for run in range(runs):
            # Alternate who goes first, so neither always follows the other's writeback.
            for contender in (nodekeeper, curl) if run % 2 == 0 else (curl, nodekeeper):
                contender(run)
        # check: one more refresh when nothing changed, measured at nginx.
        check_dir = root / "node0"
        server.wait_log(1)
        time.sleep(0.2)
        server.clear_log()
        _run_check(server.url, pub.trusted_root, check_dir)
        time.sleep(0.3)
        entries = server.access_log()
        return {
            "nk_mib_s": statistics.median(nk_rates),
            "curl_mib_s": statistics.median(curl_rates),
            "nk_rss": max(nk_rss),
            "curl_rss": max(curl_rss),
            "check_requests": len(entries),
            "check_bytes": sum(e.bytes_sent for e in entries),
            "runs": " ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(nk_rates, curl_rates, strict=True)),
            "check_paths": " ".join(f"{e.path}:{e.status}" for e in entries),
        }
    finally:
        server.stop()


def _run_check(url: str, root: Path, data: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from nodekeeper.core.update.sources.tuf import TufSource;"
        "TufSource(url=sys.argv[1], trusted_root=Path(sys.argv[2]), metadata_dir=Path(sys.argv[3]) / 'tuf',"
        " process='storagenode', allow_http=True).fetch_channel()"
    )
    subprocess.run([sys.executable, "-c", code, url, str(root), str(data)], check=True, cwd=REPO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1024", help="artifact sizes in MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append((size, bench_size(Path(tmp) / f"s{size}", size, args.runs)))
    print(
        f"{'size':>8} {'nodekeeper MiB/s':>17} {'curl MiB/s':>11} {'ratio':>6} "
        f"{'nk peak RSS':>12} {'curl RSS':>9} {'check req':>10} {'check bytes':>12}"
    )
    for size, r in rows:
        print(
            f"{size:>5}MiB {r['nk_mib_s']:>17.0f} {r['curl_mib_s']:>11.0f} "
            f"{r['nk_mib_s'] / r['curl_mib_s']:>6.2f} {r['nk_rss']:>9.1f}MiB {r['curl_rss']:>6.1f}MiB "
            f"{r['check_requests']:>10} {r['check_bytes']:>12}"
        )
    for size, r in rows:
        record(
            f"verified download {size} MiB",
            f"{r['nk_mib_s']:.0f} MiB/s, peak RSS {r['nk_rss']:.0f} MiB",
            f"curl {r['curl_mib_s']:.0f} MiB/s",
            r["nk_mib_s"] / r["curl_mib_s"],
            ">= 0.95, RSS flat",
        )
    for size, r in rows:
        print(f"{size} MiB runs (nodekeeper/curl MiB/s): {r['runs']}")
        print(f"check requests ({size} MiB run): {r['check_paths']}")


if __name__ == "__main__":
    main()
