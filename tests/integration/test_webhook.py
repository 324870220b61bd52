"""[notify] webhook_url: the core POSTs every event to the operator's webhook."""

from __future__ import annotations

import http.server
import json
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import CoreHarness, wait_until


class Collector(http.server.ThreadingHTTPServer):
    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_first = fail_first
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if collector.fail_first > 0:
                    collector.fail_first -= 1
                    self.send_response(503)
                else:
                    collector.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def kinds(self) -> list[str]:
        return [event["event"] for event in self.received]


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector(fail_first=1)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_node_events_reach_the_webhook_even_after_a_failed_delivery(
    core: CoreHarness, collector: Collector
) -> None:
    core.extra["notify"] = {"webhook_url": collector.url}
    core.start()
    pid = core.wait_state("running")["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: collector.kinds().count("node-started") >= 2, 15, "two node-started events")
    exited = next(e for e in collector.received if e["event"] == "node-exited")
    assert exited["instance"] == core.instance
    assert exited["data"]["signal"] == "SIGKILL" and exited["data"]["requested"] is False
    assert exited["type"] == "event" and exited["time"].endswith("Z")
    # The first POST was refused (HTTP 503) and retried: nothing was lost.
    assert collector.kinds()[0] == "node-started"
