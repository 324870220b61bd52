"""[notify] format: each chat service gets its documented payload shape, rate-limited.

A local receiver stands in for Discord, Slack, Telegram, ntfy and Gotify
and checks each request against the shape that service documents.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from nodekeeper.core.events import Event
from nodekeeper.core.notify import WebhookNotifier
from nodekeeper.core.throttle import NotificationThrottle
from tests.helpers import CoreHarness, wait_until

TOKEN = "s3cr3t-T0KEN-4242"
HOST = socket.gethostname()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        self.received: list[Received] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def check_discord(r: Received) -> str:
    body = r.json()
    assert r.headers["Content-Type"] == "application/json"
    assert isinstance(body["content"], str) and 0 < len(body["content"]) <= 2000
    assert len(body["embeds"]) <= 10
    for embed in body["embeds"]:
        assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
        assert isinstance(embed["color"], int)
    assert body["allowed_mentions"] == {"parse": []}
    return str(body["content"])


def check_slack(r: Received) -> str:
    body = r.json()
    assert isinstance(body["text"], str) and body["text"]
    for block in body["blocks"]:
        assert block["type"] in ("section", "context")
    section = body["blocks"][0]["text"]
    assert section["type"] == "mrkdwn" and 0 < len(section["text"]) <= 3000
    return str(body["text"]) + str(body["blocks"][1]["elements"][0]["text"])


def check_telegram(r: Received) -> str:
    assert r.path == f"/bot{TOKEN}/sendMessage"
    body = r.json()
    assert body["chat_id"] == "-1001234"
    assert isinstance(body["text"], str) and 0 < len(body["text"]) <= 4096
    assert "parse_mode" not in body
    return str(body["text"])


def check_ntfy(r: Received) -> str:
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["Priority"] in {"1", "2", "3", "4", "5"}
    assert r.headers["Title"]
    return r.headers["Title"] + r.body.decode()


def check_gotify(r: Received) -> str:
    assert r.path == f"/message?token={TOKEN}"
    body = r.json()
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["title"], str)
    assert isinstance(body["priority"], int) and 0 <= body["priority"] <= 10
    return str(body["title"]) + str(body["message"])


def check_json(r: Received) -> str:
    body = r.json()
    assert body["type"] == "event" and body["event"] == "crash-loop"
    assert body["data"] == {"exits": 10, "window_s": 600.0}
    return f"{body['hostname']} {body['instance']} {body['message']}"


SERVICES = {
    "discord": ("/api/webhooks/1/" + TOKEN, check_discord),
    "slack": ("/services/T0/B0/" + TOKEN, check_slack),
    "telegram": (f"/bot{TOKEN}/sendMessage", check_telegram),
    "ntfy": ("/nodekeeper-" + TOKEN, check_ntfy),
    "gotify": (f"/message?token={TOKEN}", check_gotify),
    "json": ("/hook/" + TOKEN, check_json),
}


@pytest.mark.parametrize("fmt", sorted(SERVICES))
def test_each_service_gets_its_documented_shape_naming_host_and_instance(
    fmt: str, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    path, check = SERVICES[fmt]
    notifier = WebhookNotifier(
        receiver.url(path), "sn-7", format=fmt, chat_id="-1001234", timeout=5.0
    )
    notifier.start()
    notifier(Event("crash-loop", {"exits": 10, "window_s": 600.0}))
    notifier.close()
    assert len(receiver.received) == 1
    shown = check(receiver.received[0])
    assert HOST in shown and "sn-7" in shown
    assert "crashed 10 times" in shown
    assert TOKEN not in caplog.text


def test_event_text_cannot_ping_or_break_markup(receiver: Receiver) -> None:
    notifier = WebhookNotifier(receiver.url("/s"), "sn", format="slack", timeout=5.0)
    notifier.start()
    notifier(
        Event(
            "update-failed", {"step": "download", "version": "1.2.3", "reason": "<!channel> & co"}
        )
    )
    notifier.close()
    text = receiver.received[0].json()["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text


def test_a_burst_is_rate_limited_and_the_rest_coalesced(receiver: Receiver) -> None:
    throttle = NotificationThrottle(limit=3, window_s=1.0, grace_kinds=frozenset())
    notifier = WebhookNotifier(
        receiver.url("/d"), "sn", format="discord", timeout=5.0, throttle=throttle
    )
    notifier.start()
    for code in range(1, 7):
        notifier(
            Event(
                "node-exited",
                {"code": code, "signal": None, "reason": "crashed", "requested": False},
            )
        )
    wait_until(lambda: len(receiver.received) >= 4, 10, "the coalesced message")
    notifier.close()
    contents = [r.json()["content"] for r in receiver.received]
    assert len(contents) == 4
    assert "exit code 6" in contents[3] and "… and 2 more" in contents[3]


def test_a_core_in_slack_format_reports_a_crash_and_never_shows_the_url(
    core: CoreHarness, receiver: Receiver
) -> None:
    core.extra["notify"] = {"webhook_url": receiver.url("/services/" + TOKEN), "format": "slack"}
    core.start()
    pid = core.wait_state("running")["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: receiver.received, 15, "a Slack message")
    text = receiver.received[0].json()["text"]
    assert "killed by SIGKILL" in text and core.instance in text and HOST in text
    # node-started is not worth a chat message.
    assert len(receiver.received) == 1
    status = (core.data_dir / "status.json").read_text()
    logs = "".join(p.read_text(errors="replace") for p in (core.root / "logs").glob("nodekeeper-*"))
    assert TOKEN not in status and TOKEN not in logs
    assert TOKEN not in core.stderr_path.read_text()
