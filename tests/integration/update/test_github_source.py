from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from nacl.signing import SigningKey

from nodekeeper.core.update.errors import UpdateError, VerificationError
from nodekeeper.core.update.sources.github import GithubSource
from tests.integration.update.web_release_server import (
    ReleaseServer,
    bytes_reply,
    json_reply,
    release_server,
)

REPO = "storj/storj"
KEY = SigningKey(b"\x07" * 32)
PUBLIC_HEX = KEY.verify_key.encode().hex()


class Releases:
    """Builds GitHub-API-shaped releases whose assets the server really serves."""

    def __init__(self, server: ReleaseServer) -> None:
        self.server = server
        self.list: list[dict[str, Any]] = []
        self.server.routes[f"/repos/{REPO}/releases"] = lambda r: json_reply(self.list)(r)

    def add(
        self,
        tag: str,
        files: dict[str, bytes],
        *,
        draft: bool = False,
        prerelease: bool = False,
        digest: bool = False,
    ) -> None:
        assets = []
        for name, body in files.items():
            path = f"/download/{tag}/{name}"
            self.server.routes[path] = bytes_reply(body)
            asset: dict[str, Any] = {
                "name": name,
                "size": len(body),
                "browser_download_url": self.server.url(path),
            }
            if digest:
                asset["digest"] = "sha256:" + hashlib.sha256(body).hexdigest()
            assets.append(asset)
        self.list.append(
            {"tag_name": tag, "draft": draft, "prerelease": prerelease, "assets": assets}
        )


def zip_bytes(label: str) -> bytes:
    return b"PK\x03\x04" + label.encode() * 50


def with_sha256(name: str, body: bytes) -> dict[str, bytes]:
    return {name: body, name + ".sha256": f"{hashlib.sha256(body).hexdigest()}  {name}\n".encode()}


@pytest.fixture
def server() -> Iterator[ReleaseServer]:
    with release_server() as s:
        yield s


@pytest.fixture
def releases(server: ReleaseServer) -> Releases:
    return Releases(server)


def source(server: ReleaseServer, public_key: str | None = None, **kw: Any) -> GithubSource:
    kw.setdefault("os_name", "linux")
    kw.setdefault("arch", "amd64")
    return GithubSource(server.base, REPO, public_key, allow_http=True, **kw)


def download(url: str, tmp_path: Path) -> Path:
    target = tmp_path / url.rsplit("/", 1)[1]
    target.write_bytes(requests.get(url, timeout=10).content)
    return target


def test_newest_stable_release_is_suggested(server: ReleaseServer, releases: Releases) -> None:
    body = zip_bytes("1.3.0")
    releases.add("v1.4.0-rc.1", with_sha256("storagenode_linux_amd64.zip", zip_bytes("rc")))
    releases.add(
        "v1.5.0", with_sha256("storagenode_linux_amd64.zip", zip_bytes("draft")), draft=True
    )
    releases.add(
        "v1.6.0", with_sha256("storagenode_linux_amd64.zip", zip_bytes("pre")), prerelease=True
    )
    releases.add("nightly", with_sha256("storagenode_linux_amd64.zip", zip_bytes("nightly")))
    releases.add("v1.2.9", with_sha256("storagenode_linux_amd64.zip", zip_bytes("1.2.9")))
    releases.add("v1.3.0", with_sha256("storagenode_linux_amd64.zip", body))
    src = source(server)
    channel = src.fetch_channel()
    assert channel.minimum is None
    assert channel.suggested is not None and channel.suggested.version == "1.3.0"
    assert channel.rollout.cursor == b"\xff" * 32
    artifact = src.artifact(channel.suggested)
    assert artifact.sha256 == hashlib.sha256(body).hexdigest()
    assert artifact.size == len(body)
    assert artifact.url.endswith("/download/v1.3.0/storagenode_linux_amd64.zip")


def test_asset_for_this_platform_and_process_is_chosen(
    server: ReleaseServer, releases: Releases
) -> None:
    files: dict[str, bytes] = {}
    for name in (
        "storagenode-updater_linux_arm64.zip",
        "storagenode_linux_amd64.zip",
        "storagenode_linux_arm.zip",
        "storagenode_v1.0.0_linux_arm64.zip",
        "storagenode_windows_amd64.exe.zip",
        "identity_linux_arm64.zip",
    ):
        files.update(with_sha256(name, zip_bytes(name)))
    releases.add("v1.0.0", files)
    for arch, os_name, expected in [
        ("arm64", "linux", "storagenode_v1.0.0_linux_arm64.zip"),
        ("arm", "linux", "storagenode_linux_arm.zip"),
        ("amd64", "windows", "storagenode_windows_amd64.exe.zip"),
    ]:
        src = source(server, os_name=os_name, arch=arch)
        channel = src.fetch_channel()
        assert channel.suggested is not None
        assert channel.suggested.url.endswith("/" + expected)
    updater = source(server, arch="arm64", process="storagenode-updater").fetch_channel()
    assert updater.suggested is not None
    assert updater.suggested.url.endswith("/storagenode-updater_linux_arm64.zip")


def test_platform_aliases_are_understood(server: ReleaseServer, releases: Releases) -> None:
    releases.add("v2.0.0", with_sha256("mynode-2.0.0-macos-aarch64.zip", zip_bytes("m")))
    channel = source(server, os_name="darwin", arch="arm64").fetch_channel()
    assert channel.suggested is not None and channel.suggested.url.endswith("macos-aarch64.zip")


def test_release_without_asset_for_platform_is_passed_over(
    server: ReleaseServer, releases: Releases
) -> None:
    releases.add("v1.1.0", with_sha256("storagenode_linux_amd64.zip", zip_bytes("a")))
    releases.add("v1.2.0", with_sha256("storagenode_darwin_amd64.zip", zip_bytes("b")))
    channel = source(server).fetch_channel()
    assert channel.suggested is not None and channel.suggested.version == "1.1.0"


def test_checksums_txt_is_used(server: ReleaseServer, releases: Releases, tmp_path: Path) -> None:
    body = zip_bytes("x")
    listing = (
        f"{'0' * 64}  storagenode_darwin_amd64.zip\n{hashlib.sha256(body).hexdigest()} *storagenode_linux_amd64.zip\n"
    ).encode()
    releases.add(
        "v1.0.0", {"storagenode_linux_amd64.zip": body, "storj_1.0.0_checksums.txt": listing}
    )
    src = source(server)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    artifact = src.artifact(channel.suggested)
    assert artifact.sha256 == hashlib.sha256(body).hexdigest()
    artifact.verify(download(artifact.url, tmp_path))


def test_api_digest_is_used_when_no_checksum_file(
    server: ReleaseServer, releases: Releases
) -> None:
    body = zip_bytes("d")
    releases.add("v1.0.0", {"storagenode_linux_amd64.zip": body}, digest=True)
    src = source(server)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    assert src.artifact(channel.suggested).sha256 == hashlib.sha256(body).hexdigest()


def test_release_without_any_checksum_is_refused(server: ReleaseServer, releases: Releases) -> None:
    releases.add("v1.0.0", {"storagenode_linux_amd64.zip": zip_bytes("n")})
    with pytest.raises(UpdateError, match=r"publishes no checksum for storagenode_linux_amd64.zip"):
        source(server).fetch_channel()


def test_checksum_list_without_the_asset_is_refused(
    server: ReleaseServer, releases: Releases
) -> None:
    releases.add(
        "v1.0.0",
        {
            "storagenode_linux_amd64.zip": zip_bytes("n"),
            "checksums.txt": f"{'a' * 64}  other.zip\n".encode(),
        },
    )
    with pytest.raises(UpdateError, match=r"checksums\.txt lists no SHA-256"):
        source(server).fetch_channel()


def test_tampered_download_fails_verification(
    server: ReleaseServer, releases: Releases, tmp_path: Path
) -> None:
    body = zip_bytes("good")
    releases.add("v1.0.0", with_sha256("storagenode_linux_amd64.zip", body))
    src = source(server)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    artifact = src.artifact(channel.suggested)
    path = download(artifact.url, tmp_path)
    artifact.verify(path)
    path.write_bytes(body[:-1] + b"!")
    with pytest.raises(VerificationError, match="does not match its published SHA-256"):
        artifact.verify(path)
    path.write_bytes(body + b"extra")
    with pytest.raises(VerificationError, match="expected"):
        artifact.verify(path)


@pytest.mark.parametrize("encoding", ["raw", "hex", "base64"])
def test_signed_release_verifies(
    server: ReleaseServer, releases: Releases, tmp_path: Path, encoding: str
) -> None:
    body = zip_bytes("signed")
    sig = KEY.sign(body).signature
    encoded = {"raw": sig, "hex": sig.hex().encode(), "base64": base64.b64encode(sig) + b"\n"}[
        encoding
    ]
    files = with_sha256("storagenode_linux_amd64.zip", body)
    files["storagenode_linux_amd64.zip.sig"] = encoded
    releases.add("v1.0.0", files)
    src = source(server, PUBLIC_HEX)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    artifact = src.artifact(channel.suggested)
    assert artifact.signature == sig
    artifact.verify(download(artifact.url, tmp_path))


def test_signature_by_another_key_is_refused(
    server: ReleaseServer, releases: Releases, tmp_path: Path
) -> None:
    body = zip_bytes("evil")
    files = with_sha256("storagenode_linux_amd64.zip", body)
    files["storagenode_linux_amd64.zip.sig"] = SigningKey(b"\x09" * 32).sign(body).signature
    releases.add("v1.0.0", files)
    src = source(server, PUBLIC_HEX)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    artifact = src.artifact(channel.suggested)
    with pytest.raises(VerificationError, match="not signed by the configured public_key"):
        artifact.verify(download(artifact.url, tmp_path))


def test_missing_or_garbled_signature_is_refused(server: ReleaseServer, releases: Releases) -> None:
    releases.add("v1.0.0", with_sha256("storagenode_linux_amd64.zip", zip_bytes("u")))
    with pytest.raises(UpdateError, match=r"no storagenode_linux_amd64.zip.sig"):
        source(server, PUBLIC_HEX).fetch_channel()
    releases.list.clear()
    files = with_sha256("storagenode_linux_amd64.zip", zip_bytes("u"))
    files["storagenode_linux_amd64.zip.sig"] = b"not a signature"
    releases.add("v1.0.1", files)
    with pytest.raises(UpdateError, match="is not an ed25519 signature"):
        source(server, PUBLIC_HEX).fetch_channel()


def test_unchanged_release_list_is_not_read_again(
    server: ReleaseServer, releases: Releases
) -> None:
    releases.add("v1.0.0", with_sha256("storagenode_linux_amd64.zip", zip_bytes("e")))
    path = f"/repos/{REPO}/releases"

    def reply(request: Any) -> tuple[int, dict[str, str], bytes]:
        if request.headers.get("If-None-Match") == 'W/"abc"':
            return 304, {}, b""
        return json_reply(releases.list, ETag='W/"abc"')(request)

    server.routes[path] = reply
    src = source(server)
    first = src.fetch_channel()
    before = len(server.requests)
    assert src.fetch_channel() == first
    assert len(server.requests) == before + 1  # only the 304, no side files
    assert server.requests[-1][1]["If-None-Match"] == 'W/"abc"'


def test_rate_limit_reset_becomes_retry_after(server: ReleaseServer) -> None:
    import time

    reset = int(time.time()) + 600
    server.routes[f"/repos/{REPO}/releases"] = bytes_reply(
        b'{"message": "API rate limit exceeded"}',
        status=403,
        **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
    )
    with pytest.raises(UpdateError, match="HTTP 403") as info:
        source(server).fetch_channel()
    assert info.value.retry_after is not None and 590 <= info.value.retry_after <= 600


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"message": "Not Found"}, "not a JSON list"),
        (["x"], "entry 0 is not an object"),
        ([{"draft": False}], "entry 0 has no tag_name"),
        (
            [{"tag_name": "v1.0.0", "draft": False, "prerelease": False, "assets": "x"}],
            "no valid assets",
        ),
        ([], "no published release"),
    ],
)
def test_malformed_release_lists_are_one_line(
    server: ReleaseServer, document: Any, problem: str
) -> None:
    server.routes[f"/repos/{REPO}/releases"] = json_reply(document)
    with pytest.raises(UpdateError, match=problem) as info:
        source(server).fetch_channel()
    assert "\n" not in str(info.value)


def test_asset_with_bad_size_or_http_url_is_refused(
    server: ReleaseServer, releases: Releases
) -> None:
    releases.add("v1.0.0", with_sha256("storagenode_linux_amd64.zip", zip_bytes("s")))
    releases.list[0]["assets"][0]["size"] = "big"
    with pytest.raises(UpdateError, match="no valid size"):
        source(server).fetch_channel()


def test_bad_settings_are_refused(server: ReleaseServer) -> None:
    with pytest.raises(UpdateError, match="owner/name"):
        GithubSource(server.base, "storj", None, True, os_name="linux", arch="amd64")
    with pytest.raises(UpdateError, match="64 hex digits"):
        GithubSource(server.base, REPO, "abcd", True, os_name="linux", arch="amd64")
    with pytest.raises(UpdateError, match="must use https"):
        GithubSource(server.base, REPO, None, False, os_name="linux", arch="amd64")


def test_download_verifies_hash_and_signature(
    server: ReleaseServer, releases: Releases, tmp_path: Path
) -> None:
    body = zip_bytes("the real thing") * 100
    files = with_sha256("storagenode_linux_amd64.zip", body)
    files["storagenode_linux_amd64.zip.sig"] = KEY.sign(body).signature
    releases.add("v1.0.0", files)
    src = source(server, PUBLIC_HEX)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    seen: list[tuple[int, int]] = []
    path = src.download(
        src.artifact(channel.suggested),
        tmp_path / "downloads",
        min_free_space=0,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert path.read_bytes() == body
    assert seen and seen[-1][0] == len(body)


def test_download_signed_by_another_key_is_deleted(
    server: ReleaseServer, releases: Releases, tmp_path: Path
) -> None:
    body = zip_bytes("forged")
    files = with_sha256("storagenode_linux_amd64.zip", body)
    files["storagenode_linux_amd64.zip.sig"] = SigningKey(b"\x01" * 32).sign(body).signature
    releases.add("v1.0.0", files)
    src = source(server, PUBLIC_HEX)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    downloads = tmp_path / "downloads"
    with pytest.raises(VerificationError, match="not signed by the configured public_key"):
        src.download(src.artifact(channel.suggested), downloads, min_free_space=0)
    assert [p for p in downloads.iterdir() if p.name.endswith(".zip")] == []


def test_download_with_wrong_checksum_installs_nothing(
    server: ReleaseServer, releases: Releases, tmp_path: Path
) -> None:
    body = zip_bytes("tampered")
    releases.add(
        "v1.0.0",
        {
            "storagenode_linux_amd64.zip": body,
            "storagenode_linux_amd64.zip.sha256": ("0" * 64 + "\n").encode(),
        },
    )
    src = source(server)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    downloads = tmp_path / "downloads"
    with pytest.raises(VerificationError):
        src.download(src.artifact(channel.suggested), downloads, min_free_space=0)
    assert [p for p in downloads.iterdir() if p.name.endswith(".zip")] == []
