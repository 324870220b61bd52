"""A control socket whose connections cannot be accepted (no open files left) waits, never spins.

A real process listens on a real socket, then uses up every file it may
open; a client connects meanwhile. Accepting fails with EMFILE: the
listener must back off (little CPU used), and serve the waiting client
once files are free again.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

LISTENER = """
import asyncio, json, os, resource, sys, time
from nodekeeper.core.ipc.unix_listener import UnixListener

async def main() -> None:
    served = []

    async def on_client(reader, writer):
        served.append(1)
        writer.write(b"served\\n")
        await writer.drain()
        writer.close()

    listener = UnixListener(sys.argv[1], lambda: None)
    await listener.start(on_client)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    hog = []
    try:
        while True:
            hog.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    print("full", flush=True)
    await asyncio.sleep(0.5)  # the client connects
    started = time.process_time()
    await asyncio.sleep(3)
    cpu = time.process_time() - started
    failures = listener.accept_failures
    for fd in hog:
        os.close(fd)
    for _ in range(100):
        if served:
            break
        await asyncio.sleep(0.1)
    print(json.dumps({"cpu": cpu, "failures": failures, "served": len(served)}), flush=True)
    listener.stop_accepting()
    await listener.wait_closed()

asyncio.run(main())
"""


def test_accept_errors_back_off_and_recover(tmp_path: Path) -> None:
    path = tmp_path / "core.sock"
    proc = subprocess.Popen(
        [sys.executable, "-c", LISTENER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "full", proc.stderr and proc.stderr.read()
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(20)
            client.connect(str(path))  # waits in the backlog
            report = json.loads(proc.stdout.readline())
            assert client.recv(100) == b"served\n"
        assert report["failures"] >= 1
        assert report["cpu"] < 0.5, f"the listener spun: {report['cpu']:.2f}s CPU in 3s"
        assert report["served"] == 1
        _out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "cannot accept control connections" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
