"""Real demo node processes for the tests: start, observe, clean up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.helpers import REPO, wait_until


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NK_DEMO_")}
    return {**env, **(extra or {})}


def get_json(port: int, path: str = "/api/sno", timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as reply:
        return json.loads(reply.read())


class DemoNode:
    """One demo node process with its stdout, stderr and port file in a folder."""

    def __init__(self, folder: Path, command: list[str], env: Mapping[str, str] | None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.stdout_path = folder / "stdout.log"
        self.stderr_path = folder / "stderr.log"
        self.port_file = folder / "port"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=clean_env(env),
                cwd=REPO,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def port(self, timeout: float = 10) -> int:
        text = wait_until(
            lambda: self.port_file.exists() and self.port_file.read_text(), timeout, "port file"
        )
        return int(text)

    def stdout_lines(self) -> list[str]:
        return self.stdout_path.read_text().splitlines()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 10) -> int:
        return self.process.wait(timeout)

    def alive(self) -> bool:
        return self.process.poll() is None


class DemoNodes:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[DemoNode] = []
        self.extra_pids: list[int] = []

    def start(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        executable: list[str] | None = None,
        port_file: bool = True,
    ) -> DemoNode:
        folder = self.root / f"node{len(self.started)}"
        command = executable or [sys.executable, "-m", "nodekeeper.core.demo.node"]
        extra = ["--port-file", str(folder / "port")] if port_file and "run" in args else []
        node = DemoNode(folder, [*command, *args, *extra], env)
        self.started.append(node)
        return node

    def cleanup(self) -> None:
        for node in self.started:
            if node.alive():
                node.process.kill()
                node.process.wait()
        for pid in self.extra_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
