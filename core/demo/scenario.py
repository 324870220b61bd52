"""`nodekeeper demo`: an end-to-end demonstration on localhost.

It builds a demo node release, starts a real core supervising it, and walks
through what nodekeeper does for an operator, printing each step: the node
comes up, crashes and is restarted, hangs and is restarted, and is stopped
gracefully with the core. Everything runs on 127.0.0.1 in a scratch folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.demo.package import build_release_binary
from core.errors import OperationFailed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


class Demo:
    def __init__(self, root: Path, out: Callable[[str], None] = print) -> None:
        self.root = root
        self.out = out
        self.port = _free_port()
        self.data_dir = root / "data"
        self.config = root / "nodekeeper.toml"
        self.core: subprocess.Popen[bytes] | None = None
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        self.out(f"[{time.monotonic() - self.started:6.1f}s] {message}")

    # -- set-up -----------------------------------------------------------------

    def write_config(self) -> None:
        binary = build_release_binary("1.0.0", self.root / "release" / "storagenode")
        command = ["{binary}", "run", "--port", str(self.port), "--log-rate", "5"]
        self.config.write_text(f"""\
instance = "demo"

[node]
command = {_toml_list(command)}
initial_binary = {json.dumps(str(binary))}
health_url = "http://127.0.0.1:{self.port}/api/sno"
health_interval = "1s"
health_timeout = "500ms"
health_failures = 3
stop_timeout = "5s"

[updates]
enabled = false

[logs]
dir = {json.dumps(str(self.root / "logs"))}
max_file_size = "1MiB"

[paths]
data_dir = {json.dumps(str(self.data_dir))}
socket = {json.dumps(str(self.root / "demo.sock"))}
""")

    def start_core(self) -> None:
        log = open(self.root / "core.out", "ab")
        self.core = subprocess.Popen(
            [sys.executable, "-m", "core", "run", "--config", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()

    # -- observing --------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        try:
            node: dict[str, Any] = json.loads((self.data_dir / "status.json").read_text())["node"]
            return node
        except (OSError, ValueError, KeyError):
            return {}

    def wait(
        self, what: str, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.core is not None and self.core.poll() is not None:
                raise OperationFailed(f"the core exited unexpectedly; see {self.root / 'core.out'}")
            node = self.status()
            if node and predicate(node):
                return node
            time.sleep(0.1)
        raise OperationFailed(f"demo: timed out waiting for {what}; see {self.root / 'core.out'}")

    # -- the story ----------------------------------------------------------------

    def run(self) -> None:
        self.say(f"scratch folder: {self.root}")
        self.write_config()
        self.say(
            "built demo node v1.0.0 and a config that adopts it as the first installed version"
        )
        self.start_core()
        node = self.wait("the node to run", lambda n: n.get("state") == "running", 30)
        self.say(f"node v{node['version']} running as pid {node['pid']}, healthy={node['healthy']}")

        pid = node["pid"]
        self.say(f"crash: kill -9 {pid}")
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        node = self.wait("a restart", lambda n: n.get("pid") not in (None, pid), 15)
        self.say(
            f"restarted as pid {node['pid']} after {1000 * (time.monotonic() - killed):.0f} ms "
            f"(restarts: {node['restarts']})"
        )

        node = self.wait("health", lambda n: n.get("state") == "running", 15)
        pid = node["pid"]
        self.say(f"hang: freezing pid {pid} with SIGSTOP; health checks run every 1s")
        frozen = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        node = self.wait("hang detection", lambda n: n.get("pid") not in (None, pid), 30)
        self.say(
            f"unresponsive node replaced by pid {node['pid']} after "
            f"{time.monotonic() - frozen:.1f}s (3 failed checks)"
        )
        self.wait("health", lambda n: n.get("state") == "running", 15)

        log_file = self.root / "logs" / "demo.log"
        if log_file.exists():
            tail = log_file.read_text(errors="replace").splitlines()[-3:]
            self.say(f"last node log lines ({log_file}):")
            for line in tail:
                self.out("          " + line[:120])

    def stop(self) -> None:
        if self.core is None or self.core.poll() is not None:
            return
        self.say("stopping the core (SIGTERM): it stops the node gracefully first")
        self.core.send_signal(signal.SIGTERM)
        try:
            code = self.core.wait(30)
        except subprocess.TimeoutExpired:
            self.core.kill()
            code = self.core.wait()
        self.say(f"core exited with code {code}; node state: {self.status().get('state')}")


def run_demo(directory: Path | None, keep: bool, out: Callable[[str], None] = print) -> int:
    root = directory or Path(tempfile.mkdtemp(prefix="nodekeeper-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    demo = Demo(root, out)
    try:
        demo.run()
        if keep:
            demo.say(f"running until Ctrl-C; try: nodekeeper status --config {demo.config}")
            try:
                while demo.core is not None and demo.core.poll() is None:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
    finally:
        demo.stop()
        if directory is None and not keep:
            shutil.rmtree(root, ignore_errors=True)
    demo.say("demo complete")
    return 0
