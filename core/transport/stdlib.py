"""A light transport on a plain socket, for the node's health probe.

The probe runs every ``health_interval`` for the life of the core, so it
must not pull in requests and urllib3, and each one should cost little: a
request is written in one piece and the answer read through one buffered
file, without ``http.client`` (whose header parsing goes through the
``email`` package). HTTP/1.1 with ``Connection: close``; the body is read to
its ``Content-Length``, chunk by chunk when chunked, else to the end. It
does not follow redirects (a health endpoint that redirects is answering
3xx, not healthy), and the one socket timeout bounds the connect and every
read.
"""

from __future__ import annotations

import socket
import ssl
import urllib.parse
from collections.abc import Iterator
from io import BufferedReader

from nodekeeper.core.transport.base import (
    ConnectError,
    ProtocolError,
    ReadTimeout,
    Request,
    Response,
    TLSError,
    TransportError,
)

MAX_LINE = 64 * 1024
MAX_HEADERS = 100


class BadAnswer(Exception):
    """The server's answer is not HTTP/1.x as this transport reads it."""


class StdlibTransport:
    def handle_request(self, request: Request) -> Response:
        parts = urllib.parse.urlsplit(request.url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        timeout = max(request.timeout.connect, request.timeout.read)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection((host, port), timeout)
            if parts.scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            sock.sendall(_request_bytes(request, path, host, parts.port))
            answer = sock.makefile("rb")
            status, headers = _read_head(answer)
        except BaseException as exc:
            if sock is not None:
                sock.close()
            if isinstance(exc, OSError | BadAnswer):
                raise _translate(exc) from exc
            raise
        opened = sock

        def close() -> None:
            answer.close()
            opened.close()

        def body(size: int) -> Iterator[bytes]:
            if request.method == "HEAD" or status in (204, 304) or status < 200:
                return  # answers that never carry a body
            try:
                yield from _body(answer, headers, size)
            except ValueError:  # a chunk size that is no number
                raise ProtocolError("BadAnswer: a chunk size that is no number") from None
            except (OSError, BadAnswer) as exc:
                raise _translate(exc) from exc

        return Response(status, url=request.url, headers=headers, body=body, on_close=close)

    def close(self) -> None:
        pass


def _request_bytes(request: Request, path: str, host: str, port: int | None) -> bytes:
    fields = {"Host": host if port is None else f"{host}:{port}", "Accept-Encoding": "identity"}
    fields.update(request.headers)
    fields["Connection"] = "close"
    if request.body is not None:
        fields["Content-Length"] = str(len(request.body))
    head = f"{request.method} {path} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return (head + "\r\n").encode("latin-1") + (request.body or b"")


def _read_line(answer: BufferedReader) -> bytes:
    line = answer.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise BadAnswer("a header line is too long")
    return line


def _read_head(answer: BufferedReader) -> tuple[int, list[tuple[str, str]]]:
    line = _read_line(answer)
    if not line:
        raise BadAnswer("the server closed the connection without answering")
    version, _, rest = line.decode("latin-1").partition(" ")
    code = rest.strip().partition(" ")[0]
    if (
        not version.startswith("HTTP/1.")
        or len(code) != 3
        or not (code.isascii() and code.isdigit())
    ):
        raise BadAnswer(f"not an HTTP answer: {line[:80]!r}")
    headers: list[tuple[str, str]] = []
    while (line := _read_line(answer)) not in (b"\r\n", b"\n", b""):
        if len(headers) >= MAX_HEADERS:
            raise BadAnswer("too many headers")
        name, colon, value = line.decode("latin-1").partition(":")
        if colon:
            headers.append((name.strip(), value.strip()))
    return int(code), headers


def _body(answer: BufferedReader, headers: list[tuple[str, str]], size: int) -> Iterator[bytes]:
    fields = {name.lower(): value for name, value in headers}
    if "chunked" in fields.get("transfer-encoding", "").lower():
        while True:
            length = int(_read_line(answer).split(b";")[0].strip() or b"0", 16)
            if length == 0:
                return
            yield from _exactly(answer, length, size)
            _read_line(answer)  # the CRLF after the chunk
    elif "content-length" in fields:
        try:
            length = int(fields["content-length"])
        except ValueError:
            raise BadAnswer("a Content-Length that is no number") from None
        yield from _exactly(answer, length, size)
    else:
        while chunk := answer.read1(size):
            yield chunk


def _exactly(answer: BufferedReader, length: int, size: int) -> Iterator[bytes]:
    while length > 0:
        chunk = answer.read1(min(size, length))
        if not chunk:
            raise BadAnswer("the connection closed before the end of the answer")
        length -= len(chunk)
        yield chunk


def _translate(exc: BaseException) -> TransportError:
    # The probe reports "<Type>: <message>" so an operator sees what went wrong.
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, ssl.SSLError):
        return TLSError(message)
    if isinstance(exc, TimeoutError):
        return ReadTimeout(message)
    if isinstance(exc, BadAnswer):
        return ProtocolError(message)
    if isinstance(exc, ConnectionError | OSError):
        return ConnectError(message)
    return TransportError(message)
