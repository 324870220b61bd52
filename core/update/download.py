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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from nodekeeper.core.update.errors import DownloadError, NotEnoughSpace, VerificationError

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


@dataclass(frozen=True)
class DownloadLimits:
    connect_timeout: float = 15.0
    read_timeout: float = 30.0  # longest silence tolerated mid-transfer
    min_rate: int = 4096  # bytes/s, averaged over rate_window …
    rate_window: float = 60.0  # … below it the transfer is abandoned (and resumed later)


class RateGuard:
    """Decides when a transfer is too slow to keep going. Pure: time is an argument."""

    def __init__(self, min_rate: int, window: float, start: float) -> None:
        self.min_rate = min_rate
        self.window = window
        self._window_start = start
        self._window_bytes = 0

    def too_slow(self, now: float, received: int) -> bool:
        """Account ``received`` new bytes at ``now``; True once a whole window fell short."""
        self._window_bytes += received
        if now - self._window_start < self.window:
            return False
        if self._window_bytes < self.min_rate * (now - self._window_start):
            return True
        self._window_start, self._window_bytes = now, 0
        return False


# Network trouble as raised by requests or, when reading the body, by urllib3.
TransferErrors = (requests.RequestException, urllib3.exceptions.HTTPError)


def iter_body(response: requests.Response, size: int) -> Iterator[bytes]:
    """The body as it arrives: up to ``size`` bytes per chunk, never waiting to fill one.

    (``iter_content`` waits for full chunks, so a trickling server would go
    unnoticed until the whole file had dribbled in.)
    """
    raw = response.raw
    while True:
        chunk = raw.read1(size, decode_content=True)
        if not chunk:
            return
        yield chunk


class BackgroundHasher:
    """SHA-256 computed in a second thread, so hashing overlaps network and disk.

    hashlib releases the GIL for large buffers; the bounded queue caps the
    memory held for the hasher at ``depth`` chunks.
    """

    def __init__(self, hasher: hashlib._Hash, depth: int = 8) -> None:
        self._hasher = hasher
        self._queue: queue.Queue[bytes | None] = queue.Queue(depth)
        self._thread = threading.Thread(target=self._run, name="download-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hasher.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        self.close()
        return self._hasher.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def required_space(length: int, min_free_space: int, already_have: int = 0) -> int:
    """Free bytes needed before downloading an artifact of ``length`` bytes."""
    return max(0, length * 3 + min_free_space - already_have)


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
    session: requests.Session | None = None,
    limits: DownloadLimits = DownloadLimits(),
    allow_http: bool = False,
    name: str | None = None,
) -> Path:
    """Download ``url`` into ``dest_dir`` (resuming a partial file) and return the verified file."""
    try:
        return _download(
            url,
            dest_dir,
            expected_length,
            expected_sha256.lower() if expected_sha256 else None,
            max_length,
            min_free_space,
            progress,
            session,
            limits,
            allow_http,
            name,
        )
    except OSError as exc:  # the folder itself: read-only, missing permissions, …
        raise DownloadError(f"cannot use {dest_dir}: {exc.strerror or exc}") from None


def _download(
    url: str,
    dest_dir: Path,
    expected_length: int | None,
    expected_sha256: str | None,
    max_length: int,
    min_free_space: int,
    progress: Progress | None,
    session: requests.Session | None,
    limits: DownloadLimits,
    allow_http: bool,
    name: str | None,
) -> Path:
    scheme = urlsplit(url).scheme
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise DownloadError(f"refusing to download {url}: only https:// is allowed")
    if expected_length is not None and expected_length > max_length:
        raise VerificationError(
            f"{url}: announced size {expected_length} bytes exceeds the limit of {max_length}"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / (name or _file_name(url, expected_sha256))
    part = final.with_name(final.name + ".part")
    if expected_sha256 and final.is_file():
        if _sha256_of(final) == expected_sha256 and (
            expected_length is None or final.stat().st_size == expected_length
        ):
            return final
        final.unlink()
    own_session = session is None
    http = session or requests.Session()
    try:
        for _attempt in range(2):
            result = _transfer(
                http, url, part, expected_length, max_length, min_free_space, progress, limits
            )
            if result is not None:
                break
        else:
            raise DownloadError(f"{url}: the server keeps refusing the resumed range")
    finally:
        if own_session:
            http.close()
    size, digest = result
    if expected_length is not None and size != expected_length:
        raise DownloadError(
            f"{url}: transfer ended after {size} of {expected_length} bytes; will resume"
        )
    if expected_sha256 is not None and digest != expected_sha256:
        part.unlink(missing_ok=True)
        raise VerificationError(
            f"{url}: SHA-256 does not match the signed value (got {digest[:16]}…, "
            f"expected {expected_sha256[:16]}…); download discarded"
        )
    os.replace(part, final)
    return final


def _transfer(
    http: requests.Session,
    url: str,
    part: Path,
    expected_length: int | None,
    max_length: int,
    min_free_space: int,
    progress: Progress | None,
    limits: DownloadLimits,
) -> tuple[int, str] | None:
    """One request; returns (size, sha256) of the finished .part, or None to retry from 0."""
    offset = part.stat().st_size if part.exists() else 0
    if expected_length is not None and offset > expected_length:
        part.unlink()
        offset = 0
    if expected_length is not None:
        check_free_space(part.parent, expected_length, min_free_space, offset)
        if offset == expected_length:
            return offset, _sha256_of(part)
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    host = urlsplit(url).netloc
    try:
        response = http.get(
            url,
            headers=headers,
            stream=True,
            timeout=(limits.connect_timeout, limits.read_timeout),
        )
    except requests.RequestException as exc:
        raise DownloadError(f"cannot download {url}: {_describe(exc, host)}") from None
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
            if total > max_length or (expected_length is not None and total > expected_length):
                part.unlink(missing_ok=True)
                raise VerificationError(
                    f"{url}: server offers {total} bytes, more than the {expected_length or max_length} expected"
                )
            if expected_length is None:
                check_free_space(part.parent, total, min_free_space, offset)
        return _stream(
            response, url, part, offset, expected_length, max_length, progress, limits, host
        )


def _stream(
    response: requests.Response,
    url: str,
    part: Path,
    offset: int,
    expected_length: int | None,
    max_length: int,
    progress: Progress | None,
    limits: DownloadLimits,
    host: str,
) -> tuple[int, str]:
    sha = hashlib.sha256()
    if offset:
        _hash_into(sha, part)
    hasher = BackgroundHasher(sha)
    limit = min(max_length, expected_length) if expected_length is not None else max_length
    total_hint = expected_length or 0
    received = offset
    guard = RateGuard(limits.min_rate, limits.rate_window, time.monotonic())
    try:
        with open(part, "ab" if offset else "wb") as out:
            try:
                for chunk in iter_body(response, CHUNK):
                    received += len(chunk)
                    if received > limit:
                        raise VerificationError(
                            f"{url}: server sent more than the {limit} bytes expected; download discarded"
                        )
                    out.write(chunk)
                    hasher.update(chunk)
                    if progress is not None:
                        progress(received, total_hint)
                    if guard.too_slow(time.monotonic(), len(chunk)):
                        raise DownloadError(
                            f"download from {host} too slow (under {limits.min_rate} bytes/s for "
                            f"{limits.rate_window:g} s); {received} bytes kept, will resume"
                        )
            except TransferErrors as exc:
                raise DownloadError(
                    f"download of {url} interrupted after {received} bytes ({_describe(exc, host)}); will resume"
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
    return received, hasher.hexdigest()


def _describe(exc: Exception, host: str) -> str:
    if isinstance(exc, requests.ConnectTimeout | urllib3.exceptions.ConnectTimeoutError):
        return f"timed out connecting to {host}"
    if isinstance(exc, requests.ReadTimeout | urllib3.exceptions.ReadTimeoutError):
        return f"{host} stopped sending data"
    if isinstance(exc, requests.ConnectionError | urllib3.exceptions.ProtocolError):
        return f"connection to {host} failed or was cut"
    return f"{type(exc).__name__} talking to {host}"


def _file_name(url: str, sha256: str | None) -> str:
    base = _SAFE_NAME.sub("_", os.path.basename(urlsplit(url).path)) or "artifact"
    prefix = sha256.lower() if sha256 else hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"{prefix}-{base}"


def _hash_into(hasher: hashlib._Hash, path: Path) -> None:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)


def _sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    _hash_into(hasher, path)
    return hasher.hexdigest()


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"
