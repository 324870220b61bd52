"""Reading Storj's servers for the mirror: the version document and the release zips.

Everything here is untrusted input: the version document is validated
strictly (the ``storj`` update source's parser), zips are downloaded
resumably by ``nodekeeper.core.update.download`` and then unpacked into a
scratch folder with the node's own unpacker rules, and on this machine's
platform the binary must report the listed version. Redirects to plain
http are refused (unless allowed, for tests) and capped. Nothing here
writes to the repository.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.mirror_plan import Digest, Refusal, Wanted, binary_name
from nodekeeper.core.update.channel import Channel

PROCESS = "storagenode"
MAX_REDIRECTS = 5


class UpstreamRefused(ReleaseError):
    """Upstream served something the mirror must not publish (exit code 1)."""


def fetch_upstream(url: str, session: requests.Session, allow_http: bool) -> Channel:
    """The storagenode channel of the version server at ``url``, strictly validated."""
    from nodekeeper.core.update.errors import UpdateError
    from nodekeeper.core.update.sources.http import HttpClient
    from nodekeeper.core.update.sources.storj import parse_version_document

    try:
        got = HttpClient(allow_http, session).get_json(url, what="version server")
        assert got is not None  # no etag sent, so never "not modified"
        return parse_version_document(got[0], PROCESS, url)
    except UpdateError as exc:
        raise UpstreamRefused(f"{exc}; nothing published") from None


def download_artifact(
    wanted: Wanted, downloads: Path, session: requests.Session, allow_http: bool
) -> tuple[Path, Digest, bool]:
    """Upstream's bytes for ``wanted``; True when a partial file was resumed."""
    from nodekeeper.core.transport.requests_transport import RequestsTransport
    from nodekeeper.core.update.download import download_file
    from nodekeeper.core.update.errors import UpdateError
    from nodekeeper.core.update.sources.artifact import MAX_ARTIFACT_BYTES

    # Named after the URL: only a transfer of the same URL is ever resumed.
    name = f"{hashlib.sha256(wanted.url.encode()).hexdigest()[:16]}-{wanted.platform}.zip"
    resumed = (downloads / f"{name}.part").exists()
    try:
        path = download_file(
            wanted.url,
            downloads,
            expected_length=None,
            expected_sha256=None,
            max_length=MAX_ARTIFACT_BYTES,
            min_free_space=0,
            transport=RequestsTransport(session),
            allow_http=allow_http,
            name=name,
        )
    except UpdateError as exc:
        raise ReleaseError(f"storagenode {wanted.describe()}: {exc}; nothing published") from None
    return path, digest_of(path), resumed


def digest_of(path: Path) -> Digest:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return Digest(sha.hexdigest(), path.stat().st_size)


def check_zip(
    wanted: Wanted, archive: Path, digest: Digest, local_platform: str | None
) -> Refusal | None:
    """The zip holds exactly the binary; on this platform it reports the listed version."""
    from nodekeeper.core.platform.ids import platform_id
    from nodekeeper.core.update.smoke import smoke_test
    from nodekeeper.core.update.unpack import unpack_release

    with tempfile.TemporaryDirectory(prefix=".check-", dir=archive.parent) as scratch:
        try:
            binary = unpack_release(
                archive, Path(scratch) / "bin", binary_name=binary_name(wanted.platform)
            )
            if wanted.platform == (local_platform or platform_id()):
                smoke_test(binary, wanted.version)
        except OperationFailed as exc:
            return Refusal(
                wanted,
                digest,
                f"upstream storagenode {wanted.describe()} from {wanted.url} "
                f"is not a good release: {exc}",
                swapped=False,
            )
    return None


def upstream_session(allow_http: bool) -> requests.Session:
    """A session that refuses redirects to plain http (unless allowed) and caps them."""
    session = requests.Session()
    session.max_redirects = MAX_REDIRECTS

    def check_redirect(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.is_redirect and not allow_http:
            target = urljoin(response.url, response.headers.get("Location", ""))
            if not target.startswith("https://"):
                raise UpstreamRefused(
                    f"{response.url} redirects to {target}, which is not https; nothing published"
                )

    session.hooks["response"].append(check_redirect)
    return session
