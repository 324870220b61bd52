"""A small real control-socket server speaking docs/contract.md, Control socket, for tray tests.

It listens on a real Unix socket in its own threads and keeps a status
object that the requests change, so the tray is tested over the same
bytes a core sends. Tests push events with :meth:`ProtocolServer.emit`,
take it down with :meth:`stop` (as if the core died) and bring it back
with :meth:`start`.
"""

from __future__ import annotations

import copy
import json
import socket
import socketserver
import tempfile
import threading
from pathlib import Path
from typing import Any

# An existing folder on every OS: the tray opens only folders that exist.
EXISTING_LOGS_DIR = tempfile.gettempdir()


def self_update_part(enabled: bool = True, latest: str | None = "0.2.0") -> dict[str, Any]:
    """The status object's ``self_update`` part of a core that updates itself."""
    return {
        "enabled": enabled,
        "source": "tuf",
        "channel": "nodekeeper",
        "state": "idle" if enabled else "disabled",
        "current": "0.1.0",
        "latest": latest,
        "target": None,
        "installed": [],
        "last_check": "2026-11-27T05:00:00Z",
        "next_check": "2026-11-27T17:12:00Z",
        "last_error": None,
        "last_failure": None,
        "previous": None,
        "quarantined": [],
        "trying": None,
    }


def sample_status(
    instance: str = "storagenode", logs_dir: str = EXISTING_LOGS_DIR
) -> dict[str, Any]:
    return {
        "instance": instance,
        "core_version": "0.1.0",
        "node": {
            "state": "running",
            "pid": 4242,
            "version": "1.2.3",
            "uptime_s": 3 * 86400 + 5,
            "restarts": 0,
            "healthy": True,
            "last_exit": None,
        },
        "updates": {
            "enabled": True,
            "source": "tuf",
            "state": "idle",
            "last_check": "2026-11-27T05:00:00Z",
            "last_error": None,
            "next_check": "2026-11-27T17:12:00Z",
            "minimum": "1.2.0",
            "suggested": "1.2.3",
            "candidate": False,
            "pending": None,
            "previous": None,
            "quarantined": [],
        },
        "logs": {"dir": logs_dir, "bytes": 0, "dropped_lines": 0},
        "limits": {"memory_max": None, "cpu_max": None, "enforced_by": None},
    }


class ProtocolServer:
    def __init__(
        self, path: Path, status: dict[str, Any] | None = None, can_control: bool = True
    ) -> None:
        self.path = path
        self.status = status or sample_status()
        self.can_control = can_control
        self.requests: list[dict[str, Any]] = []
        self.fail_methods: dict[str, str] = {}
        self.check_result: dict[str, Any] = {
            "action": "none",
            "target": None,
            "reason": "up to date",
        }
        self.raw_after_hello: list[bytes] = []
        self._lock = threading.Lock()
        self._clients: list[socket.socket] = []
        self._subscribers: list[socket.socket] = []
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    # -- control from the test -----------------------------------------------

    def start(self) -> ProtocolServer:
        server_self = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    server_self._serve(self.request, self.rfile)
                except OSError:
                    pass  # the client went away: what clients do

        self.path.unlink(missing_ok=True)
        self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go away as a crashed core does: listener closed, every connection cut."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(5)
        with self._lock:
            for client in self._clients:
                try:
                    client.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                client.close()
            self._clients.clear()
            self._subscribers.clear()
        self.path.unlink(missing_ok=True)
        self._server = None

    def emit(self, event: str, data: dict[str, Any] | None = None) -> None:
        line = {"type": "event", "event": event, "time": "2026-11-27T05:00:00Z", "data": data or {}}
        with self._lock:
            for client in list(self._subscribers):
                self._send(client, line)

    def set_updates(self, enabled: bool) -> None:
        """Change the setting from outside the tray (like `nodekeeper updates off`)."""
        self.status["updates"]["enabled"] = enabled
        self.emit("updates-toggled", {"enabled": enabled})

    def methods(self) -> list[str]:
        return [r.get("method", "") for r in self.requests]

    # -- protocol ------------------------------------------------------------

    def _send(self, client: socket.socket, message: dict[str, Any]) -> None:
        try:
            client.sendall(json.dumps(message).encode() + b"\n")
        except OSError:
            pass

    def _serve(self, client: socket.socket, rfile: Any) -> None:
        with self._lock:
            self._clients.append(client)
            self._send(
                client,
                {
                    "type": "hello",
                    "protocol": 1,
                    "core_version": "0.1.0",
                    "instance": self.status["instance"],
                    "can_control": self.can_control,
                },
            )
            for raw in self.raw_after_hello:
                client.sendall(raw)
        for raw_line in rfile:
            try:
                request = json.loads(raw_line)
            except ValueError:
                with self._lock:
                    self._send(
                        client,
                        {
                            "type": "response",
                            "id": None,
                            "ok": False,
                            "error": {"code": "bad_request", "message": "not JSON"},
                        },
                    )
                continue
            with self._lock:
                self.requests.append(request)
                self._answer(client, request)

    def _answer(self, client: socket.socket, request: dict[str, Any]) -> None:
        method, rid = request.get("method"), request.get("id")
        params = request.get("params") or {}

        def ok(result: Any) -> None:
            self._send(client, {"type": "response", "id": rid, "ok": True, "result": result})

        def error(code: str, message: str) -> None:
            self._send(
                client,
                {
                    "type": "response",
                    "id": rid,
                    "ok": False,
                    "error": {"code": code, "message": message},
                },
            )

        if method in self.fail_methods:
            error("failed", self.fail_methods[method])
        elif method in ("set_updates", "check_now", "restart_node") and not self.can_control:
            error("forbidden", "read-only connection")
        elif method == "status":
            ok(copy.deepcopy(self.status))
        elif method == "subscribe":
            snapshot = {"type": "event", "event": "status", "time": "t", "data": self.status}
            self._send(client, snapshot)
            ok({"subscribed": True})
            self._subscribers.append(client)
        elif method == "set_updates":
            # The core's own updates with "core": true, the node's otherwise.
            part = "self_update" if params.get("core") else "updates"
            self.status[part]["enabled"] = bool(params.get("enabled"))
            ok({"enabled": self.status[part]["enabled"]})
            data = {"enabled": self.status[part]["enabled"]}
            if part == "self_update":
                data["part"] = "core"
            for sub in self._subscribers:
                self._send(
                    sub, {"type": "event", "event": "updates-toggled", "time": "t", "data": data}
                )
        elif method == "check_now":
            ok(self.check_result)
        elif method == "restart_node":
            self.status["node"]["restarts"] += 1
            ok({})
        else:
            error("unknown_method", f"unknown method {method!r}")
