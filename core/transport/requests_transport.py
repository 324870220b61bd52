"""The transport for update checks, downloads, TUF metadata and webhooks: requests.

Import this module only where a request is about to be made: it loads
requests and urllib3, which an idle core does without.

Redirects are followed (the caller sees every hop in ``history`` and
decides whether it was allowed); TLS is verified with the session's own
``verify`` setting, passed explicitly because requests otherwise lets
``REQUESTS_CA_BUNDLE`` override it.
"""

from __future__ import annotations

from collections.abc import Iterator

import requests
import urllib3

from nodekeeper.core.transport.base import (
    ConnectError,
    ConnectTimeout,
    ProtocolError,
    ReadTimeout,
    Request,
    Response,
    TLSError,
    TransportError,
    first_line,
)


class RequestsTransport:
    def __init__(self, session: requests.Session | None = None) -> None:
        self.session = session if session is not None else requests.Session()

    def handle_request(self, request: Request) -> Response:
        try:
            answer = self.session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=(request.timeout.connect, request.timeout.read),
                stream=True,
                verify=self.session.verify,
            )
        except requests.RequestException as exc:
            raise _translate(exc) from exc
        return Response(
            answer.status_code,
            url=answer.url,
            headers=answer.headers,
            body=lambda size: _body(answer, size),
            history=[hop.url for hop in answer.history],
            on_close=answer.close,
        )

    def close(self) -> None:
        self.session.close()


def _body(answer: requests.Response, size: int) -> Iterator[bytes]:
    # read1, not iter_content: iter_content waits for full chunks, so a
    # trickling server would go unnoticed until the whole file had dribbled in.
    raw = answer.raw
    while True:
        try:
            chunk = raw.read1(size, decode_content=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _translate(exc) from exc
        if not chunk:
            return
        yield chunk


def _translate(exc: BaseException) -> TransportError:
    message = first_line(exc)
    if isinstance(exc, requests.exceptions.SSLError | urllib3.exceptions.SSLError):
        return TLSError(message)
    if isinstance(exc, requests.ConnectTimeout | urllib3.exceptions.ConnectTimeoutError):
        return ConnectTimeout(message)
    if isinstance(exc, requests.ReadTimeout | urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return ReadTimeout(message)
    if isinstance(exc, requests.ConnectionError | urllib3.exceptions.NewConnectionError):
        return ConnectError(message)
    if isinstance(exc, urllib3.exceptions.ProtocolError | requests.exceptions.ChunkedEncodingError):
        return ProtocolError(message)
    return TransportError(f"{type(exc).__name__}: {message}")
