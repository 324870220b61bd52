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
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from nodekeeper.core.transport.base import (
    ConnectError,
    ConnectTimeout,
    ProtocolError,
    ReadTimeout,
    RedirectRefused,
    Request,
    Response,
    TLSError,
    TransportError,
    first_line,
)

# Release servers and CDNs redirect once or twice; more is a loop or a trap.
MAX_REDIRECTS = 5


class RequestsTransport:
    """``allow_http``: off, a redirect from https to plain http (or to anything but
    http and https) is refused before the hop is requested. Every caller's
    first URL is checked by the caller; this covers every hop after it."""

    def __init__(
        self, session: requests.Session | None = None, *, allow_http: bool = False
    ) -> None:
        self.session = session if session is not None else requests.Session()
        self.session.max_redirects = min(self.session.max_redirects, MAX_REDIRECTS)
        self.allow_http = allow_http

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
                hooks={"response": [self._check_hop]},
            )
        except TransportError:
            raise
        except requests.TooManyRedirects as exc:
            raise RedirectRefused(
                f"more than {MAX_REDIRECTS} redirects from {request.url}"
            ) from exc
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

    def _check_hop(self, answer: requests.Response, *args: object, **kwargs: object) -> None:
        """Called by requests for every answer, before it follows a redirect."""
        if not answer.is_redirect:
            return
        target = urljoin(answer.url, answer.headers.get("location", ""))
        problem = hop_problem(answer.url, target, self.allow_http)
        if problem is not None:
            answer.close()
            raise RedirectRefused(f"after redirect from {answer.url}: {target!r} {problem}")


def hop_problem(source: str, target: str, allow_http: bool) -> str | None:
    """Why a redirect from ``source`` to ``target`` may not be followed (None: it may)."""
    scheme = urlsplit(target).scheme.lower()
    if scheme not in ("http", "https"):
        return "is not an http(s) URL"
    if scheme == "http" and urlsplit(source).scheme.lower() == "https" and not allow_http:
        return "must use https (plain http needs updates.allow_http)"
    return None


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
