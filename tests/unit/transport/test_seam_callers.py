"""The health probe, the webhook and the TUF fetcher over an in-memory transport."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from tuf.api import exceptions as tuf_errors

from nodekeeper.core.events import Event
from nodekeeper.core.notify import WebhookNotifier
from nodekeeper.core.supervise.health import probe
from nodekeeper.core.transport.base import (
    ConnectError,
    MockTransport,
    ProtocolError,
    ReadTimeout,
    Request,
    Response,
)
from nodekeeper.core.update.download_policy import DownloadLimits
from nodekeeper.core.update.sources.tuf import _Fetcher


def answer(status: int) -> MockTransport:
    return MockTransport(lambda r: Response(status, url=r.url, body=b"{}"))


def test_probe_is_healthy_on_2xx_only() -> None:
    assert probe("http://127.0.0.1:14002/api/sno", 2.0, answer(200)).ok
    failed = probe("http://127.0.0.1:14002/api/sno", 2.0, answer(503))
    assert not failed.ok and failed.detail == "HTTP 503"
    assert not probe("http://127.0.0.1:14002/api/sno", 2.0, answer(302)).ok


def test_probe_reports_why_it_could_not_connect() -> None:
    def refuse(request: Request) -> Response:
        raise ConnectError("ConnectionRefusedError: [Errno 111] Connection refused")

    result = probe("http://127.0.0.1:1/", 1.0, MockTransport(refuse))
    assert not result.ok and "Connection" in result.detail


def test_probe_sends_its_timeout_and_user_agent() -> None:
    transport = answer(200)
    probe("http://127.0.0.1:14002/api/sno", 3.0, transport)
    (request,) = transport.requests
    assert request.timeout.connect == request.timeout.read == 3.0
    assert request.headers["User-Agent"] == "nodekeeper-health"


def test_webhook_posts_json_and_retries_server_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nodekeeper.core.notify.RETRY_DELAYS", (0.0, 0.0, 0.0))
    statuses = iter([503, 204])
    done = threading.Event()

    def handler(request: Request) -> Response:
        status = next(statuses)
        if status == 204:
            done.set()
        return Response(status, url=request.url)

    transport = MockTransport(handler)
    notifier = WebhookNotifier("https://hooks.example.org/x", "node1", transport=transport)
    notifier.start()
    notifier(Event("node-started", {"pid": 7}))
    assert done.wait(5)
    notifier.close()
    assert notifier.delivered == 1
    first = transport.requests[0]
    assert first.method == "POST" and first.headers["Content-Type"] == "application/json"
    sent = json.loads(first.body or b"")
    assert (sent["event"], sent["instance"], sent["data"]) == ("node-started", "node1", {"pid": 7})


def fetcher(handler: MockTransport) -> _Fetcher:
    return _Fetcher(handler, DownloadLimits(connect_timeout=1, read_timeout=1))


def test_tuf_fetcher_maps_http_errors_and_timeouts() -> None:
    with pytest.raises(tuf_errors.DownloadHTTPError):
        list(fetcher(answer(404)).fetch("https://repo/metadata/2.root.json"))

    def silent(request: Request) -> Response:
        raise ReadTimeout("read timed out")

    with pytest.raises(tuf_errors.SlowRetrievalError):
        list(fetcher(MockTransport(silent)).fetch("https://repo/metadata/timestamp.json"))


def test_tuf_fetcher_reports_a_cut_connection() -> None:
    def body(size: int) -> Iterator[bytes]:
        yield b'{"signed"'
        raise ProtocolError("connection reset")

    transport = MockTransport(lambda r: Response(200, url=r.url, body=body))
    with pytest.raises(tuf_errors.DownloadError):
        list(fetcher(transport).fetch("https://repo/metadata/timestamp.json"))
