"""A real HTTP server on 127.0.0.1 for the storj and github source tests.

Routes map a path to a handler result (status, headers, body); every
request is recorded so tests can assert what the client sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fixtures.http_server import serve_http

Reply = tuple[int, dict[str, str], bytes]
Route = Callable[[BaseHTTPRequestHandler], Reply]


def json_reply(document: Any, status: int = 200, **headers: str) -> Route:
    body = json.dumps(document).encode()
    return lambda _request: (status, {"Content-Type": "application/json", **headers}, body)


def bytes_reply(body: bytes, status: int = 200, **headers: str) -> Route:
    return lambda _request: (status, dict(headers), body)


@dataclass
class ReleaseServer:
    base: str
    routes: dict[str, Route]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


@contextmanager
def release_server() -> Iterator[ReleaseServer]:
    routes: dict[str, Route] = {}
    state = ReleaseServer("", routes)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            state.requests.append((self.path, dict(self.headers.items())))
            route = routes.get(path)
            status, headers, body = route(self) if route else (404, {}, b"not found")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(Handler) as base:
        state.base = base
        yield state
