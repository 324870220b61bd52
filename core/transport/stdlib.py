"""A light transport on ``http.client``, for the node's health probe.

The probe runs every ``health_interval`` for the life of the core, so it
must not pull in requests and urllib3. It does not follow redirects (a
health endpoint that redirects is answering 3xx, not healthy), and the one
socket timeout bounds the connect and every read.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.parse
from collections.abc import Iterator

from nodekeeper.core.transport.base import (
    ConnectError,
    ProtocolError,
    ReadTimeout,
    Request,
    Response,
    TLSError,
    TransportError,
)


class StdlibTransport:
    def handle_request(self, request: Request) -> Response:
        parts = urllib.parse.urlsplit(request.url)
        conn_type = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        timeout = max(request.timeout.connect, request.timeout.read)
        conn = conn_type(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            conn.request(request.method, path, body=request.body, headers=dict(request.headers))
            answer = conn.getresponse()
        except BaseException as exc:
            conn.close()
            if isinstance(exc, OSError | http.client.HTTPException):
                raise _translate(exc) from exc
            raise

        def body(size: int) -> Iterator[bytes]:
            while True:
                try:
                    chunk = answer.read1(size)
                except (OSError, http.client.HTTPException) as exc:
                    raise _translate(exc) from exc
                if not chunk:
                    return
                yield chunk

        return Response(
            answer.status,
            url=request.url,
            headers=answer.getheaders(),
            body=body,
            on_close=conn.close,
        )

    def close(self) -> None:
        pass


def _translate(exc: BaseException) -> TransportError:
    # The probe reports "<Type>: <message>" so an operator sees what went wrong.
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, ssl.SSLError):
        return TLSError(message)
    if isinstance(exc, TimeoutError):
        return ReadTimeout(message)
    if isinstance(exc, http.client.HTTPException):
        return ProtocolError(message)
    if isinstance(exc, ConnectionError | OSError):
        return ConnectError(message)
    return TransportError(message)
