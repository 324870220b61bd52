"""Test harness: real cores supervising real demo nodes.

``CoreHarness`` writes a configuration, starts ``nodekeeper run --config``
as a real process and observes it through ``status.json`` (and, where the
tests need it, the control socket). Nothing here is faked.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

# Test configurations are written by the same writer the demo uses.
from nodekeeper.core.config import to_toml as to_toml

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(
    *args: str | Path,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``nodekeeper *args`` as a real process (``python -m nodekeeper.core``), output as text.

    ``env`` replaces the environment (None: inherit it). With ``check`` a
    non-zero exit fails the calling test with the command's stderr.
    """
    result = subprocess.run(
        [sys.executable, "-m", "nodekeeper.core", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env=None if env is None else dict(env),
    )
    if check and result.returncode != 0:
        command = " ".join(map(str, args))
        raise AssertionError(f"nodekeeper {command}: exit {result.returncode}: {result.stderr}")
    return result


@contextmanager
def release_serve(repo: Path) -> Iterator[str]:
    """``nodekeeper release serve <repo> --port 0`` as a real process; yields the URL it serves.

    The URL is read from the line the command prints first ("... at <url>").
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "nodekeeper.core", "release", "serve", str(repo), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env={**os.environ, "NODEKEEPER_SERVE_QUIET": "1"},
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().split(" at ")[1].strip()
    finally:
        proc.terminate()
        proc.wait(10)


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def demo_node_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nodekeeper.core.demo.node", *args]


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float) -> int:
    """SIGTERM, SIGKILL after ``timeout``; its exit code (0 when there is no process)."""
    if process is None:
        return 0
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_process(process)
    return process.returncode


def kill_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


class CoreHarness:
    """One core instance in a temporary folder."""

    def __init__(self, root: Path, *, instance: str = "testnode") -> None:
        self.root = root
        self.instance = instance
        self.data_dir = root / "data"
        self.config_path = root / "nodekeeper.toml"
        self.port = free_port()
        self.marker = str(root / "node-marker")
        self.node: dict[str, Any] = {
            "command": demo_node_command(
                "run", "--port", str(self.port), "--pid-file", self.marker
            ),
            "health_url": f"http://127.0.0.1:{self.port}/api/sno",
            "health_interval": "1s",
            "health_timeout": "500ms",
            "health_failures": 3,
            "restart_delay": "100ms",
            "restart_delay_max": "2s",
            "stable_after": "5s",
            "stop_timeout": "3s",
        }
        self.extra: dict[str, dict[str, Any]] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr_path = root / "core.stderr"

    @property
    def socket_path(self) -> Path:
        return self.root / "core.sock"

    def write_config(self) -> Path:
        data: dict[str, Any] = {
            "instance": self.instance,
            "node": self.node,
            "updates": {
                "enabled": False,
                "source": "storj",
                "url": "http://127.0.0.1:9/",
                "allow_http": True,
            },
            "logs": {"dir": str(self.root / "logs")},
            "paths": {"data_dir": str(self.data_dir), "socket": str(self.socket_path)},
        }
        for table, values in self.extra.items():
            data.setdefault(table, {}).update(values)
        self.config_path.write_text(to_toml(data))
        return self.config_path

    def start(self, *, wait_running: bool = True) -> subprocess.Popen[bytes]:
        self.write_config()
        # A killed core leaves its last status behind; only a fresh one counts.
        (self.data_dir / "status.json").unlink(missing_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        stderr = open(self.stderr_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nodekeeper.core", "run", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            env=env,
            cwd=REPO,
        )
        stderr.close()
        if wait_running:
            self.wait_state("running", timeout=20)
        return self.process

    def status(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.data_dir / "status.json").read_text())
            return data
        except (OSError, ValueError):
            return None

    def node_status(self) -> dict[str, Any]:
        status = self.status()
        return status["node"] if status else {}

    def wait_state(self, state: str, timeout: float = 10) -> dict[str, Any]:
        result: dict[str, Any] = wait_until(
            lambda: (s := self.node_status()).get("state") == state and s,
            timeout,
            f"node state {state}",
        )
        return result

    def node_pids(self) -> list[int]:
        """Live (non-zombie) demo-node processes of this harness, forked children excluded."""
        parents: dict[int, int] = {}
        for proc in psutil.process_iter(["pid", "cmdline", "status", "ppid"]):
            cmdline = proc.info["cmdline"] or []
            if self.marker in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
                parents[proc.info["pid"]] = proc.info["ppid"]
        # A forked child shares the cmdline; count only the topmost processes.
        return [pid for pid, parent in parents.items() if parent not in parents]

    def kill_core(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 30) -> int:
        code, self.process = stop_process(self.process, timeout), None
        return code

    def cleanup(self) -> None:
        """Kill whatever is left: the core and every node process of this harness."""
        kill_process(self.process)
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if self.marker in (proc.info["cmdline"] or []):
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""


class SharedCore:
    """Several instances served by one core process (``run --config A --config B ...``).

    Each instance is a CoreHarness (its config, data dir, socket, node); the
    first one's core runs the process's self-update. Quacks like a
    CoreHarness where a stand-in service manager needs it (``process``,
    ``start``).
    """

    def __init__(self, root: Path, names: Sequence[str]) -> None:
        self.root = root
        self.instances = {name: CoreHarness(root / name, instance=name) for name in names}
        for harness in self.instances.values():
            harness.root.mkdir(parents=True, exist_ok=True)
        self.stderr_path = root / "core.stderr"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def lead(self) -> CoreHarness:
        return next(iter(self.instances.values()))

    def start(self, *, wait_running: bool = True) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "nodekeeper.core", "run"]
        for harness in self.instances.values():
            command += ["--config", str(harness.write_config())]
            (harness.data_dir / "status.json").unlink(missing_ok=True)
        with open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, cwd=REPO
            )
        if wait_running:
            for harness in self.instances.values():
                harness.wait_state("running", timeout=30)
        return self.process

    def pids(self) -> dict[str, int]:
        return {name: h.node_status()["pid"] for name, h in self.instances.items()}

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 30) -> int:
        code, self.process = stop_process(self.process, timeout), None
        return code

    def cleanup(self) -> None:
        kill_process(self.process)
        for harness in self.instances.values():
            harness.cleanup()
