"""An https → http redirect (local TLS server, throw-away CA) is refused at every path.

Downloads, version checks and the TUF fetcher all go through the one
requests transport: the plain-http hop is refused before it is requested,
so a network attacker who can answer the http hop gets nothing to serve.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests

from nodekeeper.core.transport.base import RedirectRefused, Request, Timeout
from nodekeeper.core.transport.requests_transport import MAX_REDIRECTS, RequestsTransport
from nodekeeper.core.update.download import download_file
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.sources.storj import StorjSource
from tests.integration.update.test_storj_source import document, tls_redirector
from tests.integration.update.web_release_server import bytes_reply, json_reply, release_server

PAYLOAD = b"not the binary you signed" * 100


def session_trusting(cafile: str) -> requests.Session:
    session = requests.Session()
    session.verify = cafile
    return session


def test_a_download_never_follows_https_to_http(tmp_path: Path) -> None:
    with release_server() as plain, tls_redirector(tmp_path, plain.url("/bin")) as (url, ca):
        plain.routes["/bin"] = bytes_reply(PAYLOAD)
        transport = RequestsTransport(session_trusting(ca), allow_http=False)
        with pytest.raises(UpdateError, match=r"after redirect.*must use https"):
            download_file(
                url,
                tmp_path / "downloads",
                expected_length=len(PAYLOAD),
                expected_sha256=hashlib.sha256(PAYLOAD).hexdigest(),
                max_length=1 << 20,
                min_free_space=0,
                transport=transport,
                allow_http=False,
            )
        assert plain.requests == [], "the plain-http hop was requested"


def test_a_version_check_never_requests_the_http_hop(tmp_path: Path) -> None:
    with release_server() as plain, tls_redirector(tmp_path, plain.url("/")) as (url, ca):
        plain.routes["/"] = json_reply(document())
        src = StorjSource(url, session=session_trusting(ca), os_name="linux", arch="amd64")
        with pytest.raises(UpdateError, match=r"after redirect.*must use https"):
            src.fetch_channel()
        assert plain.requests == []


def test_the_transport_refuses_the_hop_and_caps_redirects(tmp_path: Path) -> None:
    with release_server() as plain, tls_redirector(tmp_path, plain.url("/")) as (url, ca):
        request = Request("GET", url, Timeout(5, 5))
        with pytest.raises(RedirectRefused, match="must use https"):
            RequestsTransport(session_trusting(ca)).handle_request(request)
        assert plain.requests == []
        # With allow_http (tests, demos) the hop is followed.
        with RequestsTransport(session_trusting(ca), allow_http=True).handle_request(request) as r:
            assert r.status_code == 404 and len(plain.requests) == 1
    with release_server() as loop:
        loop.routes["/loop"] = bytes_reply(b"", 302, Location="/loop")
        with pytest.raises(RedirectRefused, match=f"more than {MAX_REDIRECTS} redirects"):
            RequestsTransport(allow_http=True).handle_request(
                Request("GET", loop.url("/loop"), Timeout(5, 5))
            )
        assert len(loop.requests) == MAX_REDIRECTS + 1
