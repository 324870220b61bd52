from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from nodekeeper.core.update.channel import Release
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.sources.storj import StorjSource, parse_version_document
from tests.integration.update.web_release_server import (
    ReleaseServer,
    bytes_reply,
    json_reply,
    release_server,
)

SEED = "9a3f" * 16
CURSOR = "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffb1e20"


def document(**overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "minimum": {"version": "1.95.1", "url": "https://dl/v1.95.1/storagenode_{os}_{arch}.zip"},
        "suggested": {
            "version": "v1.99.3",
            "url": "https://dl/v1.99.3/storagenode_{os}_{arch}.zip",
        },
        "rollout": {"seed": SEED, "cursor": CURSOR},
    }
    entry.update(overrides)
    return {"processes": {"storagenode": entry, "satellite": {}}}


@pytest.fixture
def server() -> Iterator[ReleaseServer]:
    with release_server() as s:
        yield s


def source(server: ReleaseServer, **kw: Any) -> StorjSource:
    return StorjSource(
        server.url("/"), "storagenode", allow_http=True, os_name="linux", arch="arm64", **kw
    )


def test_channel_from_version_server(server: ReleaseServer) -> None:
    server.routes["/"] = json_reply(document())
    channel = source(server).fetch_channel()
    assert channel.process == "storagenode"
    assert channel.minimum == Release("1.95.1", "https://dl/v1.95.1/storagenode_{os}_{arch}.zip")
    assert channel.suggested is not None and channel.suggested.version == "1.99.3"
    assert channel.rollout.seed == bytes.fromhex(SEED)
    assert channel.rollout.cursor == bytes.fromhex(CURSOR)
    assert channel.revoked == ()


def test_artifact_url_uses_go_platform_names(server: ReleaseServer) -> None:
    server.routes["/"] = json_reply(document())
    src = source(server)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    artifact = src.artifact(channel.suggested)
    assert artifact.url == "https://dl/v1.99.3/storagenode_linux_arm64.zip"
    assert artifact.sha256 is None


def test_artifact_url_defaults_to_this_machine(server: ReleaseServer) -> None:
    from nodekeeper.core.platform.ids import current_arch, current_os

    server.routes["/"] = json_reply(document())
    src = StorjSource(server.url("/"), allow_http=True)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    expected = f"storagenode_{current_os()}_{current_arch()}.zip"
    assert src.artifact(channel.suggested).url.endswith(expected)


def test_download_of_storj_artifact(server: ReleaseServer, tmp_path: Path) -> None:
    body = b"PK\x03\x04" + b"storagenode" * 1000
    doc = document(
        suggested={"version": "1.99.3", "url": server.url("/dl/storagenode_{os}_{arch}.zip")}
    )
    server.routes["/"] = json_reply(doc)
    server.routes["/dl/storagenode_linux_arm64.zip"] = bytes_reply(body)
    src = source(server)
    channel = src.fetch_channel()
    assert channel.suggested is not None
    path = src.download(src.artifact(channel.suggested), tmp_path / "downloads", min_free_space=0)
    assert path.read_bytes() == body


def test_http_artifact_url_is_refused_without_allow_http(server: ReleaseServer) -> None:
    src = StorjSource("https://version.example", os_name="linux", arch="amd64")
    with pytest.raises(UpdateError, match="must use https"):
        src.artifact(Release("1.2.3", "http://dl/{os}.zip"))


def test_unchanged_channel_is_not_downloaded_again(server: ReleaseServer) -> None:
    def reply(request: Any) -> tuple[int, dict[str, str], bytes]:
        if request.headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return json_reply(document(), ETag='"v1"')(request)

    server.routes["/"] = reply
    src = source(server)
    first = src.fetch_channel()
    second = src.fetch_channel()
    assert second == first
    assert "If-None-Match" not in server.requests[0][1]
    assert server.requests[1][1]["If-None-Match"] == '"v1"'


def test_retry_after_is_surfaced(server: ReleaseServer) -> None:
    server.routes["/"] = bytes_reply(b"busy", status=503, **{"Retry-After": "120"})
    with pytest.raises(UpdateError, match="HTTP 503, retry after 120s") as info:
        source(server).fetch_channel()
    assert info.value.retry_after == 120


def test_server_error_without_retry_after(server: ReleaseServer) -> None:
    server.routes["/"] = bytes_reply(b"oops", status=500)
    with pytest.raises(UpdateError, match=r"answered HTTP 500$") as info:
        source(server).fetch_channel()
    assert info.value.retry_after is None


def test_plain_http_is_refused_without_allow_http(server: ReleaseServer) -> None:
    with pytest.raises(UpdateError, match="must use https"):
        StorjSource(server.url("/"), allow_http=False, os_name="linux", arch="amd64")


def test_redirect_to_plain_http_is_refused(tmp_path: Path) -> None:
    # An https server that redirects to http: the answer must not be used.
    with release_server() as plain, tls_redirector(tmp_path, plain.url("/")) as (url, cafile):
        plain.routes["/"] = json_reply(document())
        session = requests.Session()
        session.verify = cafile
        src = StorjSource(url, session=session, os_name="linux", arch="amd64")
        with pytest.raises(UpdateError, match=r"after redirect.*must use https"):
            src.fetch_channel()


def test_https_with_trusted_certificate_works(tmp_path: Path) -> None:
    with tls_redirector(tmp_path, None, body=document()) as (url, cafile):
        session = requests.Session()
        session.verify = cafile
        channel = StorjSource(url, session=session, os_name="linux", arch="amd64").fetch_channel()
        assert channel.suggested is not None and channel.suggested.version == "1.99.3"


def test_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    with (
        tls_redirector(tmp_path, None, body=document()) as (url, _cafile),
        pytest.raises(UpdateError, match="TLS check failed"),
    ):
        StorjSource(url, os_name="linux", arch="amd64").fetch_channel()


def test_unreachable_server_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = StorjSource(f"http://127.0.0.1:{port}/", allow_http=True, os_name="linux", arch="amd64")
    with pytest.raises(UpdateError, match="cannot reach version server") as info:
        src.fetch_channel()
    assert "\n" not in str(info.value)


def test_oversized_answer_is_refused(server: ReleaseServer) -> None:
    server.routes["/"] = bytes_reply(b"{" + b" " * (5 * 1024 * 1024) + b"}")
    with pytest.raises(UpdateError, match="more than the"):
        source(server).fetch_channel()


def test_invalid_json_is_refused(server: ReleaseServer) -> None:
    server.routes["/"] = bytes_reply(b"<html>maintenance</html>")
    with pytest.raises(UpdateError, match="invalid JSON"):
        source(server).fetch_channel()


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], "not a JSON object"),
        ({}, 'no "processes"'),
        ({"processes": {"other": {}}}, "no process 'storagenode' \\(known: other\\)"),
        (document(suggested=None), "suggested is not an object"),
        (document(suggested={"version": "1.2", "url": "u"}), "suggested.version is not a version"),
        (document(suggested={"version": 5, "url": "u"}), "suggested.version is missing"),
        (document(suggested={"version": "1.2.3"}), "suggested.url is missing"),
        (document(suggested={"version": "1.2.3", "url": ""}), "suggested.url is empty"),
        (document(minimum="1.0.0"), "minimum is not an object"),
        (document(rollout={"seed": "zz", "cursor": ""}), "rollout.seed must be 64 hex"),
        (document(rollout={"seed": "", "cursor": "ab" * 33}), "rollout.cursor must be 64 hex"),
        (document(rollout={"seed": "", "cursor": 7}), "rollout.cursor must be 64 hex"),
        (document(rollout=[]), "rollout is not an object"),
        (document(revoked="1.0.0"), "revoked is not a list"),
        (document(revoked=["x"]), "revoked holds something that is not a version"),
    ],
)
def test_malformed_documents_name_the_field(doc: Any, problem: str) -> None:
    with pytest.raises(UpdateError, match=problem) as info:
        parse_version_document(doc, "storagenode")
    assert "\n" not in str(info.value)


def test_empty_minimum_and_rollout_mean_none_and_nobody() -> None:
    channel = parse_version_document(
        document(minimum={"version": "", "url": ""}, rollout={"seed": "", "cursor": ""}),
        "storagenode",
    )
    assert channel.minimum is None
    assert channel.rollout.cursor == bytes(32)
    assert parse_version_document(document(rollout=None), "storagenode").rollout.cursor == bytes(32)


def test_revoked_extension_is_read() -> None:
    channel = parse_version_document(document(revoked=["v1.99.2", "1.98.0"]), "storagenode")
    assert channel.revoked == ("1.99.2", "1.98.0")


# --- a small TLS server with a throw-away CA ------------------------------


class _TLS:
    def __init__(self, tmp_path: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256())
        )
        self.cert = tmp_path / "cert.pem"
        self.key = tmp_path / "key.pem"
        self.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


class tls_redirector:
    """https server on 127.0.0.1: redirects to ``target`` or serves ``body``."""

    def __init__(self, tmp_path: Path, target: str | None, body: Any = None) -> None:
        self.tls = _TLS(tmp_path)
        self.target, self.body = target, body

    def __enter__(self) -> tuple[str, str]:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        target, body = self.target, json.dumps(self.body).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if target:
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return f"https://127.0.0.1:{self.server.server_address[1]}/", str(self.tls.cert)

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
