"""Strict parsing of a verified channel file."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from nodekeeper.core.release.serve import make_server
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.sources.tuf import TufSource, parse_channel
from tests.fixtures.releases import Publisher
from tests.helpers import free_port

GOOD = {
    "minimum": {"version": "1.2.0", "url": "storagenode/1.2.0/{os}-{arch}.zip"},
    "suggested": {"version": "1.3.0", "url": "storagenode/1.3.0/{os}-{arch}.zip"},
    "rollout": {"seed": "ab" * 32, "cursor": "ff" * 32},
    "revoked": ["1.2.5"],
}


def test_good_channel_parses() -> None:
    channel = parse_channel(json.dumps(GOOD).encode(), "storagenode")
    assert channel.process == "storagenode"
    assert channel.minimum is not None and channel.minimum.version == "1.2.0"
    assert (
        channel.suggested is not None
        and channel.suggested.url == "storagenode/1.3.0/{os}-{arch}.zip"
    )
    assert (
        channel.rollout.seed == bytes.fromhex("ab" * 32) and channel.rollout.cursor == b"\xff" * 32
    )
    assert channel.revoked == ("1.2.5",)


def test_null_minimum_means_none() -> None:
    channel = parse_channel(json.dumps({**GOOD, "minimum": None}).encode(), "storagenode")
    assert channel.minimum is None


@pytest.mark.parametrize(
    "change",
    [
        {"suggested": {"version": "1.x", "url": "a/b.zip"}},
        {"suggested": {"version": "1.3.0", "url": "../../etc/passwd"}},
        {"suggested": {"version": "1.3.0", "url": "/abs/path.zip"}},
        {"suggested": {"version": "1.3.0", "url": "https://evil.example/x.zip"}},
        {"suggested": {"version": "1.3.0"}},
        {"suggested": "1.3.0"},
        {"rollout": {"seed": "zz", "cursor": ""}},
        {"rollout": None},
        {"revoked": "1.2.0"},
        {"revoked": ["nope"]},
    ],
)
def test_bad_channel_is_one_line_error(change: dict[str, object]) -> None:
    with pytest.raises(UpdateError) as info:
        parse_channel(json.dumps({**GOOD, **change}).encode(), "storagenode")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe", b"[]", b"null", b"{"])
def test_non_object_is_refused(raw: bytes) -> None:
    with pytest.raises(UpdateError, match="channel for storagenode"):
        parse_channel(raw, "storagenode")


def test_missing_suggested_is_refused() -> None:
    doc = dict(GOOD)
    del doc["suggested"]
    with pytest.raises(UpdateError, match="no 'suggested'"):
        parse_channel(json.dumps(doc).encode(), "storagenode")


def _source(tmp_path: Path, url: str, root: Path, *, allow_http: bool = True) -> TufSource:
    return TufSource(
        url=url,
        trusted_root=root,
        metadata_dir=tmp_path / "tuf",
        process="storagenode",
        allow_http=allow_http,
        fetcher_timeout=2,
    )


def test_plain_http_repository_needs_allow_http(tmp_path: Path) -> None:
    with pytest.raises(UpdateError, match="must be an https:// URL"):
        _source(tmp_path, "http://127.0.0.1:1/", tmp_path / "root.json", allow_http=False)


@pytest.mark.parametrize("content", [None, b"", b"{}", b'{"signed": {"_type": "root"}}'])
def test_unusable_trusted_root_is_one_line(tmp_path: Path, content: bytes | None) -> None:
    root = tmp_path / "root.json"
    if content is not None:
        root.write_bytes(content)
    with pytest.raises(UpdateError) as info:
        _source(tmp_path, "http://127.0.0.1:1/", root).fetch_channel()
    assert "\n" not in str(info.value)


def test_unreachable_repository_is_one_line(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path / "pub")
    with pytest.raises(UpdateError, match="cannot reach the repository") as info:
        _source(
            tmp_path, f"http://127.0.0.1:{free_port()}/", publisher.trusted_root
        ).fetch_channel()
    assert "\n" not in str(info.value)


def test_repository_without_channel_is_one_line(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path / "pub")
    server = make_server(publisher.repo_dir)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with pytest.raises(UpdateError, match=r"has no channels/storagenode\.json"):
            _source(tmp_path, url, publisher.trusted_root).fetch_channel()
    finally:
        server.shutdown()
        server.server_close()
