"""The storj and github sources over an in-memory transport: no sockets, no servers.

The integration tests run the same sources against real HTTP(S) servers;
these pin down the source logic itself (conditional GET, Retry-After,
redirect checks, size caps, checksums and signatures) in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from nodekeeper.core.transport.base import (
    ConnectError,
    MockTransport,
    ProtocolError,
    Request,
    Response,
    TLSError,
)
from nodekeeper.core.update.errors import UpdateError, VerificationError
from nodekeeper.core.update.sources.github import GithubSource
from nodekeeper.core.update.sources.storj import StorjSource

VERSION_URL = "https://version.example.org/"
API = "https://api.example.org"
KEY = SigningKey(b"\x05" * 32)
PUBLIC_HEX = bytes(KEY.verify_key).hex()
ZIP = b"PK\x03\x04 pretend this is a zip" * 50


def json_response(request: Request, document: Any, **headers: str) -> Response:
    return Response(200, url=request.url, headers=headers, body=json.dumps(document).encode())


def version_document() -> dict[str, Any]:
    release = {"version": "1.2.3", "url": "https://dl.example.org/{os}_{arch}.zip"}
    return {
        "processes": {
            "storagenode": {
                "minimum": release,
                "suggested": release,
                "rollout": {"seed": "", "cursor": ""},
            }
        }
    }


def storj(handler: Callable[[Request], Response]) -> tuple[StorjSource, MockTransport]:
    transport = MockTransport(handler)
    source = StorjSource(VERSION_URL, os_name="linux", arch="amd64", transport=transport)
    return source, transport


def test_storj_channel_and_conditional_get() -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(304, url=request.url)
        return json_response(request, version_document(), ETag='"v1"')

    source, transport = storj(handler)
    first = source.fetch_channel()
    assert first.suggested is not None and first.suggested.version == "1.2.3"
    assert source.fetch_channel() is first
    assert [r.headers.get("If-None-Match") for r in transport.requests] == [None, '"v1"']
    assert transport.requests[0].headers["User-Agent"].startswith("nodekeeper/")


def test_storj_retry_after_reaches_the_scheduler() -> None:
    source, _ = storj(lambda r: Response(503, url=r.url, headers={"Retry-After": "120"}))
    with pytest.raises(UpdateError, match="HTTP 503, retry after 120s") as info:
        source.fetch_channel()
    assert info.value.retry_after == 120


def test_storj_redirect_to_plain_http_is_refused() -> None:
    def handler(request: Request) -> Response:
        return Response(200, url="http://evil.example.org/", history=[request.url], body=b"{}")

    source, _ = storj(handler)
    with pytest.raises(UpdateError, match=r"after redirect.*must use https"):
        source.fetch_channel()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (TLSError("certificate verify failed"), "TLS check failed"),
        (ConnectError("connection refused"), "cannot reach version server"),
    ],
)
def test_storj_network_failures_are_one_line(error: Exception, message: str) -> None:
    def handler(request: Request) -> Response:
        raise error

    source, _ = storj(handler)
    with pytest.raises(UpdateError, match=message) as info:
        source.fetch_channel()
    assert "\n" not in str(info.value)


def test_storj_answer_beyond_the_size_cap_is_refused() -> None:
    source, _ = storj(lambda r: Response(200, url=r.url, body=b" " * (4 * 1024 * 1024 + 1)))
    with pytest.raises(UpdateError, match="more than the"):
        source.fetch_channel()


def test_storj_answer_cut_midway_is_one_line() -> None:
    def body(size: int) -> Any:
        yield b'{"processes": '
        raise ProtocolError("connection reset")

    source, _ = storj(lambda r: Response(200, url=r.url, body=body))
    with pytest.raises(UpdateError, match="transfer failed"):
        source.fetch_channel()


class GithubRepo:
    """A GitHub API with one release, answered in memory."""

    def __init__(self, body: bytes = ZIP, *, signed_by: SigningKey | None = None) -> None:
        self.files = {
            "storagenode_linux_amd64.zip": body,
            "storagenode_linux_amd64.zip.sha256": hashlib.sha256(body).hexdigest().encode(),
        }
        if signed_by is not None:
            self.files["storagenode_linux_amd64.zip.sig"] = signed_by.sign(body).signature
        self.served: dict[str, bytes] = dict(self.files)

    def handler(self, request: Request) -> Response:
        if request.url.startswith(f"{API}/repos/"):
            assets = [
                {
                    "name": name,
                    "size": len(data),
                    "browser_download_url": f"https://dl.example.org/{name}",
                }
                for name, data in self.files.items()
            ]
            release = {"tag_name": "v1.4.0", "draft": False, "prerelease": False, "assets": assets}
            return json_response(request, [release])
        name = request.url.rsplit("/", 1)[1]
        data = self.served[name]
        offset = int(request.headers.get("Range", "bytes=0-")[6:-1])
        headers = {"Content-Length": str(len(data) - offset)}
        if offset:
            headers["Content-Range"] = f"bytes {offset}-{len(data) - 1}/{len(data)}"
        return Response(
            206 if offset else 200, url=request.url, headers=headers, body=data[offset:]
        )


def github(repo: GithubRepo, public_key: str | None = None) -> tuple[GithubSource, MockTransport]:
    transport = MockTransport(repo.handler)
    source = GithubSource(
        API, "storj/storj", public_key, os_name="linux", arch="amd64", transport=transport
    )
    return source, transport


def test_github_signed_release_downloads_and_verifies(tmp_path: Path) -> None:
    repo = GithubRepo(signed_by=KEY)
    source, _ = github(repo, PUBLIC_HEX)
    channel = source.fetch_channel()
    assert channel.suggested is not None
    path = source.download(source.artifact(channel.suggested), tmp_path, min_free_space=0)
    assert path.read_bytes() == ZIP


def test_github_release_signed_by_another_key_is_discarded(tmp_path: Path) -> None:
    repo = GithubRepo(signed_by=SigningKey(b"\x06" * 32))
    source, _ = github(repo, PUBLIC_HEX)
    channel = source.fetch_channel()
    assert channel.suggested is not None
    with pytest.raises(VerificationError, match="not signed by the configured public_key"):
        source.download(source.artifact(channel.suggested), tmp_path, min_free_space=0)
    assert list(tmp_path.iterdir()) == []


def test_github_tampered_asset_is_discarded(tmp_path: Path) -> None:
    repo = GithubRepo(signed_by=KEY)
    repo.served["storagenode_linux_amd64.zip"] = ZIP[:-1] + b"!"
    source, _ = github(repo, PUBLIC_HEX)
    channel = source.fetch_channel()
    assert channel.suggested is not None
    with pytest.raises(VerificationError, match="SHA-256"):
        source.download(source.artifact(channel.suggested), tmp_path, min_free_space=0)
    assert list(tmp_path.iterdir()) == []


def test_github_resumed_download_verifies_the_whole_file(tmp_path: Path) -> None:
    repo = GithubRepo(signed_by=KEY)
    source, transport = github(repo, PUBLIC_HEX)
    channel = source.fetch_channel()
    assert channel.suggested is not None
    artifact = source.artifact(channel.suggested)
    # A first attempt left the first 700 bytes behind.
    name = f"{artifact.sha256}-storagenode_linux_amd64.zip"
    (tmp_path / f"{name}.part").write_bytes(ZIP[:700])
    path = source.download(artifact, tmp_path, min_free_space=0)
    assert path.read_bytes() == ZIP
    assert transport.requests[-1].headers["Range"] == "bytes=700-"


def test_github_resumed_download_with_a_bad_first_part_is_discarded(tmp_path: Path) -> None:
    repo = GithubRepo(signed_by=KEY)
    source, _ = github(repo, PUBLIC_HEX)
    channel = source.fetch_channel()
    assert channel.suggested is not None
    artifact = source.artifact(channel.suggested)
    name = f"{artifact.sha256}-storagenode_linux_amd64.zip"
    (tmp_path / f"{name}.part").write_bytes(b"X" * 700)  # not what the server has
    with pytest.raises(VerificationError, match="SHA-256"):
        source.download(artifact, tmp_path, min_free_space=0)
    assert list(tmp_path.iterdir()) == []
