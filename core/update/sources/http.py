"""The HTTP GET the web-based release sources share (storj, github).

Everything that comes back from the network is untrusted: the scheme must
be https (plain http only with ``allow_http``, for tests and demos on
loopback, including after redirects), bodies are read up to a size bound,
errors become one-line :class:`UpdateError` messages carrying the
server's ``Retry-After``, and JSON is decoded here so sources only
validate its shape. This is the only module of the sources that talks to
the network, and it does so through a transport (:mod:`nodekeeper.core.transport`)
that unit tests replace with an in-memory one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nodekeeper.core.transport.base import (
    BaseTransport,
    Request,
    Response,
    Timeout,
    TLSError,
    TransportError,
)
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.scheduler import RETRY_AFTER_CAP, parse_retry_after
from nodekeeper.core.version import running_version

if TYPE_CHECKING:
    import requests

DEFAULT_TIMEOUT = 30.0
MAX_JSON_BYTES = 4 * 1024 * 1024
USER_AGENT = f"nodekeeper/{running_version()}"


def check_url(url: str, allow_http: bool, what: str) -> str:
    """``url`` if it is an absolute http(s) URL nodekeeper may fetch, else UpdateError."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UpdateError(f"{what} is not a URL: {url!r}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UpdateError(f"{what} is not an http(s) URL: {url!r}")
    if parts.scheme == "http" and not allow_http:
        raise UpdateError(
            f"{what} must use https: {url!r} (plain http needs updates.allow_http, for tests only)"
        )
    return url


@dataclass(frozen=True)
class Fetched:
    url: str
    body: bytes
    etag: str | None


class HttpClient:
    """GETs for a release source through ``transport`` (requests' unless a test gives one)."""

    def __init__(
        self,
        allow_http: bool,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        transport: BaseTransport | None = None,
    ) -> None:
        self.allow_http = allow_http
        if transport is None:
            from nodekeeper.core.transport.requests_transport import RequestsTransport

            transport = RequestsTransport(session, allow_http=allow_http)
        self.transport = transport
        self.timeout = timeout

    def get(
        self,
        url: str,
        *,
        what: str,
        etag: str | None = None,
        accept: str | None = None,
        max_bytes: int = MAX_JSON_BYTES,
    ) -> Fetched | None:
        """GET ``url``; None when ``etag`` still matches (HTTP 304)."""
        check_url(url, self.allow_http, what)
        headers = {"User-Agent": USER_AGENT}
        if etag:
            headers["If-None-Match"] = etag
        if accept:
            headers["Accept"] = accept
        request = Request("GET", url, Timeout(self.timeout, self.timeout), headers)
        try:
            response = self.transport.handle_request(request)
        except TLSError as exc:
            raise UpdateError(f"{what}: TLS check failed for {url} ({exc})") from None
        except TransportError as exc:
            raise UpdateError(f"cannot reach {what} {url} ({exc})") from None
        with response:
            for hop in [*response.history, response.url]:
                check_url(hop, self.allow_http, f"{what} (after redirect)")
            if response.status_code == 304 and etag:
                return None
            if response.status_code != 200:
                retry_after = _retry_after(response.headers, time.time())
                hint = f", retry after {retry_after:.0f}s" if retry_after is not None else ""
                raise UpdateError(
                    f"{what} {url} answered HTTP {response.status_code}{hint}",
                    retry_after=retry_after,
                )
            body = _read_bounded(response, max_bytes, what, url)
            return Fetched(response.url, body, response.headers.get("ETag"))

    def get_json(
        self, url: str, *, what: str, etag: str | None = None, accept: str | None = None
    ) -> tuple[Any, str | None] | None:
        fetched = self.get(url, what=what, etag=etag, accept=accept)
        if fetched is None:
            return None
        try:
            return json.loads(fetched.body.decode("utf-8")), fetched.etag
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UpdateError(f"{what} {url} sent invalid JSON ({exc})") from None


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    retry_after = parse_retry_after(headers.get("Retry-After"), now)
    if retry_after is None and headers.get("X-RateLimit-Remaining") == "0":
        # GitHub's rate limit: the reset time is an epoch second.
        reset = headers.get("X-RateLimit-Reset", "")
        if reset.isascii() and reset.isdigit():
            retry_after = min(max(int(reset) - now, 0.0), RETRY_AFTER_CAP)
    return retry_after


def _read_bounded(response: Response, max_bytes: int, what: str, url: str) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise UpdateError(f"{what} {url} sent {declared} bytes, more than the {max_bytes} allowed")
    try:
        body = response.read(max_bytes)
    except TransportError as exc:
        raise UpdateError(f"{what} {url}: transfer failed ({exc})") from None
    if len(body) > max_bytes:
        raise UpdateError(f"{what} {url} sent more than the {max_bytes} bytes allowed")
    return body
