"""HTTP as a small transport interface: one request in, one streamed response out.

The five things the core does over HTTP (version checks, downloads, the
TUF fetcher, webhooks, health probes) build a :class:`Request` and hand it
to a :class:`BaseTransport`. The real transports are
:class:`~.requests_transport.RequestsTransport` (TLS, proxies, redirects;
imported only when the first update check or webhook needs it) and
:class:`~.stdlib.StdlibTransport` (plain ``http.client`` for the health
probe, which must stay light). Tests pass a :class:`MockTransport` whose
handler answers in memory.

A transport only moves bytes: what counts as success, size caps,
``Retry-After`` and the allowed schemes are decided by its callers. Every
network failure is one of the :class:`TransportError` types below, never a
library's own exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol


class TransportError(Exception):
    """The request failed on the network (the message is one line)."""


class ConnectError(TransportError):
    """No connection: refused, unreachable, name not resolved."""


class ConnectTimeout(ConnectError):
    """No connection within the connect timeout."""


class ReadTimeout(TransportError):
    """The server went silent for longer than the read timeout."""


class TLSError(ConnectError):
    """The server's certificate or the TLS handshake was refused."""


class RedirectRefused(TransportError):
    """A redirect led where the request may not go (the hop was never requested),
    or there were too many of them."""


class ProtocolError(TransportError):
    """The connection was cut or the answer was not valid HTTP."""


@dataclass(frozen=True)
class Timeout:
    connect: float
    read: float  # longest silence tolerated while waiting for or reading the answer


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    timeout: Timeout
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


class Headers(Mapping[str, str]):
    """Response headers, looked up case-insensitively."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items = {k.lower(): v for k, v in pairs}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class Response:
    """A status, headers and a body read as it arrives; close it (or use ``with``)."""

    def __init__(
        self,
        status_code: int,
        *,
        url: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes | Callable[[int], Iterator[bytes]] = b"",
        history: Sequence[str] = (),
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.status_code = status_code
        self.url = url
        self.headers = Headers(headers)
        # The URLs of the redirects that led here, first request first.
        self.history = tuple(history)
        self._body = body
        self._on_close = on_close

    def iter_bytes(self, size: int) -> Iterator[bytes]:
        """The body in chunks of at most ``size`` bytes, each yielded as soon as it arrives.

        Raises :class:`TransportError` when the transfer fails midway.
        """
        if callable(self._body):
            yield from self._body(size)
            return
        for start in range(0, len(self._body), size):
            yield self._body[start : start + size]

    def read(self, limit: int) -> bytes:
        """The whole body, or the first ``limit`` + 1 bytes of it if it is longer."""
        chunks: list[bytes] = []
        got = 0
        for chunk in self.iter_bytes(64 * 1024):
            chunks.append(chunk)
            got += len(chunk)
            if got > limit:
                break
        return b"".join(chunks)

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> Response:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class BaseTransport(Protocol):
    def handle_request(self, request: Request) -> Response:
        """Send ``request`` (following redirects where the transport does) and return the answer."""
        ...

    def close(self) -> None: ...


class MockTransport:
    """A transport answered by ``handler`` in memory: the test seam."""

    def __init__(self, handler: Callable[[Request], Response]) -> None:
        self.handler = handler
        self.requests: list[Request] = []

    def handle_request(self, request: Request) -> Response:
        self.requests.append(request)
        return self.handler(request)

    def close(self) -> None:
        pass


def first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
