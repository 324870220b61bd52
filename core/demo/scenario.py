"""`nodekeeper demo`: an end-to-end demonstration on localhost.

It creates a signed release repository, serves it on 127.0.0.1, starts a
real core supervising the demo node, and walks through what nodekeeper
does for an operator, printing each step: the node comes up, crashes and is
restarted, hangs and is restarted, is updated to a new signed release, is
rolled back from a release that crashes; then the core updates itself
from the same signed repository while the node keeps running (same pid),
a broken core build is rolled back, and the node is stopped gracefully with
the core. Everything runs in a scratch folder.
"""

from __future__ import annotations

import hashlib
import json
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

import psutil

from nodekeeper.core.config import to_toml
from nodekeeper.core.demo.package import (
    build_faulty_release_zip,
    build_release_binary,
    build_release_zip,
)
from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.paths import WINDOWS_PIPE_PREFIX, OsName, current_os
from nodekeeper.core.platform.ids import platform_id
from nodekeeper.core.selfexec import CORE_MODULE, module_command

if sys.platform == "win32":
    _KILL_WORDS, _FREEZE_WORDS, _STOP_WORDS = "TerminateProcess", "NtSuspendProcess", "CTRL_BREAK"
    # The core in its own console group, so that CTRL_BREAK reaches it alone.
    _CORE_CREATION_FLAGS = subprocess.CREATE_NEW_PROCESS_GROUP
    _CORE_STOP_SIGNAL = signal.CTRL_BREAK_EVENT
else:
    _KILL_WORDS, _FREEZE_WORDS, _STOP_WORDS = "kill -9", "SIGSTOP", "SIGTERM"
    _CORE_CREATION_FLAGS = 0
    _CORE_STOP_SIGNAL = signal.SIGTERM


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_config(
    *,
    node_port: int,
    initial_binary: Path,
    repo: Path,
    repo_url: str,
    data_dir: Path,
    logs_dir: Path,
    socket: Path | str,
) -> dict[str, Any]:
    """The demo core's configuration: quick health checks and probation, a local TUF repository."""
    return {
        "instance": "demo",
        "node": {
            "command": ["{binary}", "run", "--port", str(node_port), "--log-rate", "5"],
            "initial_binary": initial_binary,
            "health_url": f"http://127.0.0.1:{node_port}/api/sno",
            "health_interval": "1s",
            "health_timeout": "500ms",
            "health_failures": 3,
            "stop_timeout": "5s",
        },
        "updates": {
            "enabled": True,
            "source": "tuf",
            "url": repo_url,
            "trusted_root": repo / "metadata" / "1.root.json",
            "allow_http": True,
            "startup_delay": "1h",
            "probation": "4s",
        },
        "self_update": {"probation": "20s"},
        "logs": {"dir": logs_dir, "max_file_size": "1MiB"},
        "paths": {"data_dir": data_dir, "socket": socket},
    }


def demo_socket(root: Path, os_name: OsName) -> str:
    """The demo core's control socket: a file in the scratch folder, a named pipe on Windows.

    Windows has no Unix sockets; the pipe's name is made from the scratch
    folder, so two demos in two folders never meet on one pipe.
    """
    if os_name == "windows":
        digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
        return f"{WINDOWS_PIPE_PREFIX}nodekeeper-demo-{digest}"
    return str(root / "demo.sock")


class Demo:
    def __init__(self, root: Path, out: Callable[[str], None] = print) -> None:
        self.root = root
        self.out = out
        self.port = _free_port()
        self.data_dir = root / "data"
        self.config = root / "nodekeeper.toml"
        self.socket = demo_socket(root, current_os())
        self.core: subprocess.Popen[bytes] | None = None
        self.started = time.monotonic()
        self.repo = root / "repo"
        self.keys = root / "release-keys.json"
        self.repo_url = ""
        self.server: subprocess.Popen[bytes] | None = None
        # While set, a core that exits is started again, as systemd's Restart=always would.
        self.restart_core = False

    def say(self, message: str) -> None:
        self.out(f"[{time.monotonic() - self.started:6.1f}s] {message}")

    # -- set-up -----------------------------------------------------------------

    def publisher(self, *args: str) -> None:
        """Run one `nodekeeper release` command, as a publisher would."""
        done = subprocess.run(
            [
                *module_command(CORE_MODULE),
                "release",
                *args,
                "--key-file",
                str(self.keys),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise OperationFailed(
                f"demo: nodekeeper release {args[0]} failed: {done.stderr.strip()}"
            )

    def publish(self, version: str, archive: Path) -> None:
        self.publisher(
            "add",
            str(self.repo),
            "--version",
            version,
            "--platform",
            platform_id(),
            "--file",
            str(archive),
        )

    def make_repository(self) -> None:
        self.publisher("init", str(self.repo))
        self.publish("1.0.0", build_release_zip("1.0.0", self.root / "release-1.0.0.zip"))
        self.publisher(
            "channel",
            str(self.repo),
            "--minimum",
            "1.0.0",
            "--suggested",
            "1.0.0",
            "--rollout",
            "100",
        )
        port = _free_port()
        with open(self.root / "serve.log", "ab") as log:
            self.server = subprocess.Popen(
                [
                    *module_command(CORE_MODULE),
                    "release",
                    "serve",
                    str(self.repo),
                    "--port",
                    str(port),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.repo_url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.server.poll() is not None:
                    raise OperationFailed(
                        f"demo: the release server did not start; see {log.name}"
                    ) from None
                time.sleep(0.05)

    def write_config(self) -> None:
        binary = build_release_binary("1.0.0", self.root / "release" / "storagenode")
        data = demo_config(
            node_port=self.port,
            initial_binary=binary,
            repo=self.repo,
            repo_url=self.repo_url,
            data_dir=self.data_dir,
            logs_dir=self.root / "logs",
            socket=self.socket,
        )
        self.config.write_text(to_toml(data), encoding="ascii")

    def start_core(self) -> None:
        log = open(self.root / "core.out", "ab")
        self.core = subprocess.Popen(
            [*module_command(CORE_MODULE), "run", "--config", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            creationflags=_CORE_CREATION_FLAGS,
        )
        log.close()

    # -- observing --------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        try:
            node: dict[str, Any] = json.loads((self.data_dir / "status.json").read_text())["node"]
            return node
        except (OSError, ValueError, KeyError):
            return {}

    def wait_new_pid(self, old: int, timeout: float) -> int:
        """The next node's pid, from the pid file the core writes right after spawning it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pid = int(json.loads((self.data_dir / "node.pid").read_text())["pid"])
                if pid != old:
                    return pid
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.002)
        raise OperationFailed(
            f"demo: no new node within {timeout:g}s; see {self.root / 'core.out'}"
        )

    def wait(
        self, what: str, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.core is not None and self.core.poll() is not None:
                if not self.restart_core:
                    raise OperationFailed(
                        f"the core exited unexpectedly; see {self.root / 'core.out'}"
                    )
                self.say(
                    f"the core exited (code {self.core.returncode}); starting it again, "
                    "as the service manager would"
                )
                self.start_core()
            node = self.status()
            if node and predicate(node):
                return node
            time.sleep(0.1)
        raise OperationFailed(f"demo: timed out waiting for {what}; see {self.root / 'core.out'}")

    # -- the story ----------------------------------------------------------------

    def run(self) -> None:
        self.say(f"scratch folder: {self.root}")
        self.make_repository()
        self.say(f"signed release repository (TUF) with 1.0.0 served at {self.repo_url}")
        self.write_config()
        self.say("config adopts demo node v1.0.0 as the first installed version")
        self.start_core()
        node = self.wait("the node to run", lambda n: n.get("state") == "running", 30)
        self.say(f"node v{node['version']} running as pid {node['pid']}, healthy={node['healthy']}")

        pid = node["pid"]
        self.say(f"crash: {_KILL_WORDS} {pid}")
        killed = time.monotonic()
        # psutil: SIGKILL on POSIX, TerminateProcess on Windows (which has no SIGKILL).
        psutil.Process(pid).kill()
        new_pid = self.wait_new_pid(pid, 15)
        restarted_ms = 1000 * (time.monotonic() - killed)
        node = self.wait("a restart", lambda n: n.get("pid") == new_pid, 15)
        self.say(
            f"restarted as pid {node['pid']} {restarted_ms:.0f} ms after the kill "
            f"(restarts: {node['restarts']})"
        )

        node = self.wait("health", lambda n: n.get("state") == "running", 15)
        pid = node["pid"]
        self.say(f"hang: freezing pid {pid} with {_FREEZE_WORDS}; health checks run every 1s")
        frozen = time.monotonic()
        # psutil: SIGSTOP on POSIX, every thread suspended on Windows (no SIGSTOP there).
        psutil.Process(pid).suspend()
        node = self.wait("hang detection", lambda n: n.get("pid") not in (None, pid), 30)
        self.say(
            f"unresponsive node replaced by pid {node['pid']} after "
            f"{time.monotonic() - frozen:.1f}s (3 failed checks)"
        )
        self.wait("health", lambda n: n.get("state") == "running", 15)

        self.update_story()
        self.self_update_story()

        log_file = self.root / "logs" / "demo.log"
        if log_file.exists():
            tail = log_file.read_text(errors="replace").splitlines()[-3:]
            self.say(f"last node log lines ({log_file}):")
            for line in tail:
                self.out("          " + line[:120])

    def check(self, *, core: bool = False) -> dict[str, Any]:
        from nodekeeper.core.ipc.client import Client

        with Client(self.socket) as client:
            decision: dict[str, Any] = client.call("check_now", {"core": True} if core else {})
        return decision

    def update_story(self) -> None:
        self.publish("1.1.0", build_release_zip("1.1.0", self.root / "release-1.1.0.zip"))
        self.publisher("channel", str(self.repo), "--suggested", "1.1.0", "--rollout", "100")
        self.say("published 1.1.0 (signed) as suggested for 100 % of nodes")
        decision = self.check()
        self.say(f"check: {decision['action']} -> {decision['target']} ({decision['reason']})")
        node = self.wait(
            "1.1.0", lambda n: n.get("version") == "1.1.0" and n.get("state") == "running", 60
        )
        self.wait("probation", lambda n: self.updates().get("pending") is None, 30)
        self.say(
            f"node now runs v{node['version']} (pid {node['pid']}); it passed 4 s of probation"
        )

        bad = build_faulty_release_zip(
            "1.2.0", self.root / "release-1.2.0.zip", ["--crash-after", "1"]
        )
        self.publish("1.2.0", bad)
        self.publisher("channel", str(self.repo), "--suggested", "1.2.0")
        self.say("published 1.2.0, a release that crashes a second after it starts")
        decision = self.check()
        self.say(f"check: {decision['action']} -> {decision['target']}")
        self.wait("the rollback", lambda n: "1.2.0" in self.updates().get("quarantined", []), 90)
        node = self.wait(
            "1.1.0 again", lambda n: n.get("version") == "1.1.0" and n.get("state") == "running", 60
        )
        self.say(
            f"1.2.0 failed probation: rolled back to v{node['version']}, 1.2.0 quarantined "
            f"({self.updates().get('last_error')})"
        )
        decision = self.check()
        self.say(f"check again: {decision['action']} ({decision['reason']})")

    def self_update_story(self) -> None:
        from nodekeeper.core.update.version import Version
        from nodekeeper.core.version import running_version

        node = self.wait("health", lambda n: n.get("state") == "running", 15)
        pid = node["pid"]
        running = Version.parse(running_version())
        new = f"{running.major}.{running.minor}.{running.patch + 1}"
        broken = f"{running.major}.{running.minor}.{running.patch + 2}"
        archive, kind = self.build_core(new)
        self.publish_core(new, archive)
        self.say(f"published core {new} ({kind}) on the signed 'nodekeeper' channel")
        started = time.monotonic()
        decision = self.check(core=True)
        self.say(f"check --self: {decision['action']} -> {decision['target']}")
        self.restart_core = True
        self.wait_core(new, 60)
        node = self.wait("the node", lambda n: n.get("state") == "running", 15)
        self.say(
            f"the core replaced itself with {new} in {time.monotonic() - started:.1f}s; "
            f"node pid {node['pid']} {'unchanged' if node['pid'] == pid else 'CHANGED'}"
        )
        from nodekeeper.core.selfupdate.devbuild import pack_bundle, write_dev_bundle

        bad = pack_bundle(write_dev_bundle(self.root / "core-builds", broken, broken=True))
        self.publish_core(broken, bad)
        self.say(f"published core {broken}, a build that dies as soon as it runs")
        decision = self.check(core=True)
        self.say(f"check --self: {decision['action']} -> {decision['target']}")
        self.wait(
            "the core rollback",
            lambda n: broken in self.self_updates().get("quarantined", []),
            90,
        )
        self.wait_core(new, 60)
        node = self.wait("the node", lambda n: n.get("state") == "running", 15)
        failure = self.self_updates().get("last_failure") or {}
        self.say(
            f"core {broken} rolled back to {new} and quarantined ({failure.get('reason')}); "
            f"node pid {node['pid']} {'unchanged' if node['pid'] == pid else 'CHANGED'}"
        )
        self.restart_core = False

    def build_core(self, version: str) -> tuple[Path, str]:
        """A new core to publish: this very bundle restamped, or a development build."""
        from nodekeeper.core.selfupdate.devbuild import copy_bundle, pack_bundle, write_dev_bundle
        from nodekeeper.core.version import bundle_dir

        builds = self.root / "core-builds"
        folder = bundle_dir()
        if folder is not None and (folder / "nodekeeper-bundle.json").is_file():
            return pack_bundle(copy_bundle(folder, builds, version)), "this bundle, restamped"
        return pack_bundle(write_dev_bundle(builds, version)), "a development build of this install"

    def publish_core(self, version: str, archive: Path) -> None:
        from nodekeeper.core.selfupdate.manifest import this_platform

        self.publisher(
            "add",
            str(self.repo),
            "--process",
            "nodekeeper",
            "--version",
            version,
            "--platform",
            this_platform(),
            "--file",
            str(archive),
        )
        self.publisher(
            "channel", str(self.repo), "--process", "nodekeeper", "--suggested", version,
            "--rollout", "100",
        )  # fmt: skip

    def wait_core(self, version: str, timeout: float) -> None:
        def committed(_node: dict[str, Any]) -> bool:
            try:
                status = json.loads((self.data_dir / "status.json").read_text())
            except (OSError, ValueError):
                return False
            saved = self.self_updates()
            return status.get("core_version") == version and saved.get("trying") is None

        self.wait(f"core {version}", committed, timeout)

    def self_updates(self) -> dict[str, Any]:
        return self.status_part("self_update")

    def updates(self) -> dict[str, Any]:
        return self.status_part("updates")

    def status_part(self, key: str) -> dict[str, Any]:
        """One part of the status object the core last wrote, or {}."""
        try:
            part: dict[str, Any] = json.loads((self.data_dir / "status.json").read_text())[key]
            return part
        except (OSError, ValueError, KeyError):
            return {}

    def stop(self) -> None:
        if self.core is None or self.core.poll() is not None:
            return
        self.say(f"stopping the core ({_STOP_WORDS}): it stops the node gracefully first")
        # Popen.send_signal(SIGTERM) on Windows would be TerminateProcess: no graceful stop.
        self.core.send_signal(_CORE_STOP_SIGNAL)
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
        if demo.server is not None:
            demo.server.terminate()
            demo.server.wait()
        if directory is None and not keep:
            shutil.rmtree(root, ignore_errors=True)
    demo.say("demo complete")
    return 0
