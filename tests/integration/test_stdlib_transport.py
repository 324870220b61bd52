"""The health probe's transport against a real HTTP server: bodies as they are framed."""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import pytest

from nodekeeper.core.supervise.health import probe
from nodekeeper.core.transport.base import Request, Timeout
from nodekeeper.core.transport.stdlib import StdlibTransport
from tests.fixtures.http_server import serve_http


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/sized":
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"abcde")
        elif self.path == "/empty":
            self.send_response(204)
            self.end_headers()
        else:  # closes without a word
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    with serve_http(Handler) as base:
        yield base


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [("/chunked", 200, b"hello world"), ("/sized", 200, b"abcde"), ("/empty", 204, b"")],
)
def test_bodies_are_read_as_framed(server: str, path: str, status: int, body: bytes) -> None:
    request = Request("GET", server + path, Timeout(2.0, 2.0))
    with StdlibTransport().handle_request(request) as response:
        assert response.status_code == status
        assert response.read(65536) == body


def test_a_server_that_closes_without_answering_is_unhealthy_with_a_reason(server: str) -> None:
    result = probe(server + "/silent", 2.0)
    assert not result.ok and "without answering" in result.detail
