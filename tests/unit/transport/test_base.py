"""The transport seam itself: responses, headers and the in-memory transport."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nodekeeper.core.transport.base import (
    MockTransport,
    ProtocolError,
    Request,
    Response,
    Timeout,
)

TIMEOUT = Timeout(1.0, 1.0)


def test_headers_are_case_insensitive() -> None:
    response = Response(200, url="https://x/", headers={"Content-Length": "3", "ETag": '"a"'})
    assert response.headers["content-length"] == "3"
    assert response.headers.get("etag") == '"a"'
    assert response.headers.get("Retry-After") is None


def test_body_comes_in_chunks_no_larger_than_asked() -> None:
    response = Response(200, url="https://x/", body=b"abcdefghij")
    assert list(response.iter_bytes(4)) == [b"abcd", b"efgh", b"ij"]


def test_read_stops_soon_after_the_limit_of_an_endless_body() -> None:
    def body(size: int) -> Iterator[bytes]:
        while True:  # endless: read must not wait for the end
            yield b"x" * size

    assert len(Response(200, url="https://x/", body=body).read(100_000)) > 100_000


def test_failure_midway_surfaces_as_a_transport_error() -> None:
    def body(size: int) -> Iterator[bytes]:
        yield b"start"
        raise ProtocolError("connection reset")

    with pytest.raises(ProtocolError):
        Response(200, url="https://x/", body=body).read(1000)


def test_close_runs_once() -> None:
    closed: list[int] = []
    with Response(200, url="https://x/", on_close=lambda: closed.append(1)) as response:
        pass
    response.close()
    assert closed == [1]


def test_mock_transport_records_requests() -> None:
    transport = MockTransport(lambda r: Response(204, url=r.url))
    request = Request("POST", "https://hook/", TIMEOUT, {"A": "b"}, b"{}")
    assert transport.handle_request(request).status_code == 204
    assert transport.requests == [request]
