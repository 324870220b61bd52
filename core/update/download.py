"""Resumable, verified downloads of release artifacts into ``downloads/``.

``download_file`` streams a URL into ``<name>.part`` and only renames it to
``<name>`` once its length and SHA-256 match what the caller was promised
(the signed TUF target info, or a checksum file). An interrupted or
abandoned transfer keeps its partial file and the next call asks for the
rest with an HTTP ``Range`` request; a file that fails verification is
removed. Before any byte is fetched the disk must hold three times the
artifact plus ``min_free_space`` (download, unpacked copy, the version it
replaces). A server that trickles data is given up on (minimum rate over a
window) as surely as one that goes silent (read timeout).

Every failure is a one-line :class:`~nodekeeper.core.update.errors.UpdateError`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from nodekeeper.core.fsutil import open_nofollow
from nodekeeper.core.transport.base import (
    BaseTransport,
    ConnectError,
    ConnectTimeout,
    ProtocolError,
    ReadTimeout,
    RedirectRefused,
    Request,
    Response,
    Timeout,
    TransportError,
)
from nodekeeper.core.update.download_policy import (
    DEFAULT_LIMITS,
    DownloadLimits,
    RateGuard,
    required_space,
)
from nodekeeper.core.update.errors import DownloadError, NotEnoughSpace, VerificationError
from nodekeeper.core.update.verify import StreamVerifier

Progress = Callable[[int, int], None]
CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class ArtifactInfo:
    """What a source promises about one artifact, and where to fetch it."""

    path: str  # the name in the channel, e.g. "storagenode/1.3.0/linux-amd64.zip"
    url: str
    length: int
    sha256: str


class BackgroundHasher:
    """Feeds a :class:`StreamVerifier` in a second thread, so hashing overlaps network and disk.

    hashlib releases the GIL for large buffers; the bounded queue caps the
    memory held for the hasher at ``depth`` chunks.
    """

    def __init__(self, verifier: StreamVerifier, depth: int = 8) -> None:
        self._verifier = verifier
        self._queue: queue.Queue[bytes | None] = queue.Queue(depth)
        self._thread = threading.Thread(target=self._run, name="download-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._verifier.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def close(self) -> None:
        """Wait until every chunk given so far has been fed."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def check_free_space(
    directory: Path, length: int, min_free_space: int, already_have: int = 0
) -> None:
    need = required_space(length, min_free_space, already_have)
    free = shutil.disk_usage(directory).free
    if free < need:
        raise NotEnoughSpace(
            f"not enough disk space in {directory}: {_mib(free)} free, {_mib(need)} needed "
            f"(3 x the {_mib(length)} artifact + min_free_space)"
        )


def download_file(
    url: str,
    dest_dir: Path,
    *,
    expected_length: int | None,
    expected_sha256: str | None,
    max_length: int,
    min_free_space: int,
    progress: Progress | None = None,
    transport: BaseTransport | None = None,
    limits: DownloadLimits = DEFAULT_LIMITS,
    allow_http: bool = False,
    name: str | None = None,
    signature: bytes | None = None,
    public_key: bytes | None = None,
) -> Path:
    """Download ``url`` into ``dest_dir`` (resuming a partial file) and return the verified file.

    With ``public_key``, the file must also carry ``signature`` (detached
    ed25519 over the whole file); it is checked in the same pass as the hash.
    """
    scheme = urlsplit(url).scheme
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise DownloadError(f"refusing to download {url}: only https:// is allowed")
    if expected_length is not None and expected_length > max_length:
        raise VerificationError(
            f"{url}: announced size {expected_length} bytes exceeds the limit of {max_length}"
        )

    def promised() -> StreamVerifier:
        return StreamVerifier(
            length=expected_length,
            sha256=expected_sha256,
            signature=signature,
            public_key=public_key,
        )

    own_transport = transport is None
    if transport is None:
        from nodekeeper.core.transport.requests_transport import RequestsTransport

        transport = RequestsTransport(allow_http=allow_http)
    job = _Job(url, urlsplit(url).netloc, expected_length, max_length, min_free_space, limits)
    try:
        return _download(job, dest_dir, name, promised, transport, progress)
    except OSError as exc:  # the folder itself: read-only, missing permissions, …
        raise DownloadError(f"cannot use {dest_dir}: {exc.strerror or exc}") from None
    finally:
        if own_transport:
            transport.close()


@dataclass(frozen=True)
class _Job:
    url: str
    host: str
    expected_length: int | None
    max_length: int
    min_free_space: int
    limits: DownloadLimits


def _download(
    job: _Job,
    dest_dir: Path,
    name: str | None,
    promised: Callable[[], StreamVerifier],
    transport: BaseTransport,
    progress: Progress | None,
) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / (name or _file_name(job.url, promised().sha256))
    part = final.with_name(final.name + ".part")
    if promised().sha256 and final.is_file():
        again = promised()
        again.update_from_file(final)  # a finished download is reused only if still intact
        if again.mismatch() is None:
            return final
        final.unlink()
    for _attempt in range(2):
        verifier = _transfer(job, transport, part, promised, progress)
        if verifier is not None:
            break
    else:
        raise DownloadError(f"{job.url}: the server keeps refusing the resumed range")
    problem = verifier.mismatch()
    if problem == "length":
        raise DownloadError(
            f"{job.url}: transfer ended after {verifier.size} of {job.expected_length} bytes; "
            "will resume"
        )
    if problem is not None:
        part.unlink(missing_ok=True)
    if problem == "sha256":
        digest, expected = verifier.hexdigest(), verifier.sha256 or ""
        raise VerificationError(
            f"{job.url}: SHA-256 does not match the signed value (got {digest[:16]}…, "
            f"expected {expected[:16]}…); download discarded"
        )
    if problem == "signature":
        raise VerificationError(
            f"{final.name} is not signed by the configured public_key; download discarded"
        )
    os.replace(part, final)
    return final


def _transfer(
    job: _Job,
    transport: BaseTransport,
    part: Path,
    promised: Callable[[], StreamVerifier],
    progress: Progress | None,
) -> StreamVerifier | None:
    """One request; the verifier fed the whole .part, or None to retry from 0."""
    url, expected_length = job.url, job.expected_length
    offset = part.stat().st_size if part.exists() else 0
    if expected_length is not None and offset > expected_length:
        part.unlink()
        offset = 0
    if expected_length is not None:
        check_free_space(part.parent, expected_length, job.min_free_space, offset)
        if offset == expected_length:
            verifier = promised()
            verifier.update_from_file(part)
            return verifier
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    timeout = Timeout(job.limits.connect_timeout, job.limits.read_timeout)
    try:
        response = transport.handle_request(Request("GET", url, timeout, headers))
    except TransportError as exc:
        raise DownloadError(f"cannot download {url}: {_describe(exc, job.host)}") from None
    with response:
        if response.status_code == 416 and offset:
            part.unlink(missing_ok=True)
            return None
        if response.status_code >= 400:
            raise DownloadError(f"cannot download {url}: HTTP {response.status_code}")
        if response.status_code == 206 and offset:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            if match is None or int(match[1]) != offset:
                part.unlink(missing_ok=True)
                return None
        else:
            offset = 0  # the server sent the whole file
        announced = response.headers.get("Content-Length")
        if announced is not None and announced.isdigit():
            total = offset + int(announced)
            if total > job.max_length or (expected_length is not None and total > expected_length):
                part.unlink(missing_ok=True)
                raise VerificationError(
                    f"{url}: server offers {total} bytes, more than the "
                    f"{expected_length or job.max_length} expected"
                )
            if expected_length is None:
                check_free_space(part.parent, total, job.min_free_space, offset)
        verifier = promised()
        if offset:
            verifier.update_from_file(part)  # once; the rest is hashed as it arrives
        _stream(job, response, part, offset, verifier, progress)
        return verifier


def _stream(
    job: _Job,
    response: Response,
    part: Path,
    offset: int,
    verifier: StreamVerifier,
    progress: Progress | None,
) -> None:
    url, limits = job.url, job.limits
    expected_length = job.expected_length
    limit = min(job.max_length, expected_length) if expected_length is not None else job.max_length
    received = offset
    hasher = BackgroundHasher(verifier)
    guard = RateGuard(limits.min_rate, limits.rate_window, time.monotonic())
    try:
        append = os.O_APPEND if offset else os.O_TRUNC
        with os.fdopen(open_nofollow(part, os.O_WRONLY | os.O_CREAT | append), "ab") as out:
            try:
                for chunk in response.iter_bytes(CHUNK):
                    received += len(chunk)
                    if received > limit:
                        raise VerificationError(
                            f"{url}: server sent more than the {limit} bytes expected; "
                            "download discarded"
                        )
                    out.write(chunk)
                    hasher.update(chunk)
                    if progress is not None:
                        progress(received, expected_length or 0)
                    if guard.too_slow(time.monotonic(), len(chunk)):
                        raise DownloadError(
                            f"download from {job.host} too slow (under {limits.min_rate} bytes/s "
                            f"for {limits.rate_window:g} s); {received} bytes kept, will resume"
                        )
            except TransportError as exc:
                raise DownloadError(
                    f"download of {url} interrupted after {received} bytes "
                    f"({_describe(exc, job.host)}); will resume"
                ) from None
            # No fsync: a file torn by a power cut fails the hash check that
            # precedes every reuse, and unpacking fsyncs what gets installed.
    except VerificationError:
        part.unlink(missing_ok=True)
        raise
    except OSError as exc:
        part.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NotEnoughSpace(
                f"disk full while downloading into {part.parent}; partial file removed"
            ) from None
        raise DownloadError(f"cannot write {part}: {exc.strerror}") from None
    finally:
        hasher.close()


def _describe(exc: TransportError, host: str) -> str:
    if isinstance(exc, RedirectRefused):
        return str(exc)
    if isinstance(exc, ConnectTimeout):
        return f"timed out connecting to {host}"
    if isinstance(exc, ReadTimeout):
        return f"{host} stopped sending data"
    if isinstance(exc, ConnectError | ProtocolError):
        return f"connection to {host} failed or was cut"
    return f"{type(exc).__name__} talking to {host}"


def _file_name(url: str, sha256: str | None) -> str:
    base = _SAFE_NAME.sub("_", os.path.basename(urlsplit(url).path)) or "artifact"
    prefix = sha256.lower() if sha256 else hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"{prefix}-{base}"


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"
