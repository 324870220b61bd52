"""The ``tuf`` release source: a signed channel read with python-tuf's ngclient.

``TufSource`` refreshes the TUF metadata (root chain → timestamp →
snapshot → targets, every step verified against the trusted root and the
previously seen versions, which live in ``<data_dir>/tuf/``), then fetches
``channels/<process>.json`` as a verified target and parses it strictly.
Artifacts are located through the same signed targets metadata and
downloaded by :mod:`nodekeeper.core.update.download`, which checks length and SHA-256
while streaming. The bootstrap root always comes from ``trusted_root``.

Every failure is raised as a one-line :class:`UpdateError`; this module
never installs anything.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tuf.api import exceptions as tuf_errors
from tuf.ngclient.config import UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.updater import Updater

from nodekeeper.core.transport.base import (
    BaseTransport,
    ConnectTimeout,
    ReadTimeout,
    Request,
    Response,
    Timeout,
    TransportError,
)
from nodekeeper.core.update.channel import Channel, Release, Rollout
from nodekeeper.core.update.download import ArtifactInfo, download_file
from nodekeeper.core.update.download_policy import DownloadLimits, RateGuard
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.version import Version

OS_NAMES = ("linux", "darwin", "windows", "freebsd")
ARCH_NAMES = ("amd64", "arm64", "arm")
CHANNEL_MAX_LENGTH = 64 * 1024
_TARGET_PATH = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._{}-]+)*")
_HEX32 = re.compile(r"[0-9a-f]{64}")


class _Fetcher(FetcherInterface):
    """HTTP for metadata through the transport, with connect/read timeouts and a minimum rate."""

    def __init__(self, transport: BaseTransport, limits: DownloadLimits) -> None:
        self._transport = transport
        self._limits = limits

    def _fetch(self, url: str) -> Iterator[bytes]:
        timeout = Timeout(self._limits.connect_timeout, self._limits.read_timeout)
        try:
            response = self._transport.handle_request(Request("GET", url, timeout))
        except (ConnectTimeout, ReadTimeout) as exc:
            raise tuf_errors.SlowRetrievalError(f"timed out fetching {url}") from exc
        except TransportError as exc:
            raise tuf_errors.DownloadError(f"cannot fetch {url}: {exc}") from exc
        if response.status_code >= 400:
            response.close()
            raise tuf_errors.DownloadHTTPError(
                f"HTTP {response.status_code} for {url}", response.status_code
            )
        return self._chunks(response, url)

    def _chunks(self, response: Response, url: str) -> Iterator[bytes]:
        guard = RateGuard(self._limits.min_rate, self._limits.rate_window, time.monotonic())
        try:
            for chunk in response.iter_bytes(64 * 1024):
                yield chunk
                if guard.too_slow(time.monotonic(), len(chunk)):
                    raise tuf_errors.SlowRetrievalError(f"{url} is arriving too slowly")
        except (ConnectTimeout, ReadTimeout) as exc:
            raise tuf_errors.SlowRetrievalError(f"{url} stopped arriving") from exc
        except TransportError as exc:
            raise tuf_errors.DownloadError(f"{url}: connection cut") from exc
        finally:
            response.close()


class TufSource:
    def __init__(
        self,
        *,
        url: str,
        trusted_root: Path,
        metadata_dir: Path,
        process: str,
        allow_http: bool,
        fetcher_timeout: float = 30.0,
        limits: DownloadLimits | None = None,
        transport: BaseTransport | None = None,
    ) -> None:
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (scheme == "http" and allow_http):
            raise UpdateError(f"updates.url {url!r} must be an https:// URL (allow_http is off)")
        base = url if url.endswith("/") else url + "/"
        self.metadata_url = base + "metadata/"
        self.targets_url = base + "targets/"
        self.trusted_root = Path(trusted_root)
        self.metadata_dir = Path(metadata_dir)
        self.process = process
        self.allow_http = allow_http
        self.limits = limits or DownloadLimits(read_timeout=fetcher_timeout)
        if transport is None:
            from nodekeeper.core.transport.requests_transport import RequestsTransport

            transport = RequestsTransport(allow_http=allow_http)
        self._transport = transport
        self._updater: Updater | None = None

    # ---- the interface the updater uses --------------------------------------

    def fetch_channel(self) -> Channel:
        """Refresh the signed metadata and return the verified, parsed channel."""
        updater = self._refreshed(new=True)
        path = f"channels/{self.process}.json"
        info = self._guard(lambda: updater.get_targetinfo(path))
        if info is None:
            raise UpdateError(f"the signed repository at {self.metadata_url} has no {path}")
        if info.length > CHANNEL_MAX_LENGTH:
            raise UpdateError(f"{path} is {info.length} bytes, more than a channel may be")
        local = self._guard(lambda: updater.find_cached_target(info))
        if local is None:
            local = self._guard(lambda: updater.download_target(info))
        try:
            data = Path(local).read_bytes()
        except OSError as exc:
            raise UpdateError(f"cannot read the verified channel {local}: {exc.strerror}") from None
        return parse_channel(data, self.process)

    def artifact_info(self, channel_url: str, os_name: str, arch: str) -> ArtifactInfo:
        if os_name not in OS_NAMES or arch not in ARCH_NAMES:
            raise UpdateError(f"unknown platform {os_name}-{arch}")
        path = channel_url.replace("{os}", os_name).replace("{arch}", arch)
        _check_target_path(path, "artifact url")
        updater = self._refreshed(new=False)
        info = self._guard(lambda: updater.get_targetinfo(path))
        if info is None:
            raise UpdateError(
                f"no signed artifact for {os_name}-{arch} in the repository (looked for {path})"
            )
        sha256 = info.hashes.get("sha256")
        if not isinstance(sha256, str) or not _HEX32.fullmatch(sha256):
            raise UpdateError(f"signed target {path} carries no sha256 hash")
        folder, sep, name = path.rpartition("/")
        return ArtifactInfo(
            path, f"{self.targets_url}{folder}{sep}{sha256}.{name}", info.length, sha256
        )

    def download(
        self,
        info: ArtifactInfo,
        downloads_dir: Path,
        *,
        min_free_space: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> Path:
        return download_file(
            info.url,
            downloads_dir,
            expected_length=info.length,
            expected_sha256=info.sha256,
            max_length=info.length,
            min_free_space=min_free_space,
            progress=progress,
            transport=self._transport,
            limits=self.limits,
            allow_http=self.allow_http,
            name=f"{info.sha256}-{info.path.replace('/', '_')}",
        )

    def close(self) -> None:
        self._transport.close()

    # ---- internals -------------------------------------------------------------

    def _refreshed(self, *, new: bool) -> Updater:
        if self._updater is not None and not new:
            return self._updater
        try:
            bootstrap = self.trusted_root.read_bytes()
        except OSError as exc:
            raise UpdateError(
                f"cannot read trusted_root {self.trusted_root}: {exc.strerror}"
            ) from None
        try:
            self.metadata_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UpdateError(f"cannot create {self.metadata_dir}: {exc.strerror}") from None
        updater: Updater = self._guard(
            lambda: Updater(
                str(self.metadata_dir),
                self.metadata_url,
                str(self.metadata_dir / "targets"),
                self.targets_url,
                _Fetcher(self._transport, self.limits),
                UpdaterConfig(app_user_agent="nodekeeper"),
                bootstrap=bootstrap,
            )
        )
        self._guard(updater.refresh)
        self._updater = updater
        return updater

    def _guard(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except tuf_errors.ExpiredMetadataError as exc:
            raise UpdateError(
                f"signed release metadata has expired ({_line(exc)}): the repository is stale or "
                "someone is replaying old metadata; nothing installed"
            ) from None
        except tuf_errors.BadVersionNumberError as exc:
            raise UpdateError(f"rollback refused: {_line(exc)}; nothing installed") from None
        except tuf_errors.UnsignedMetadataError as exc:
            raise UpdateError(f"signature check failed: {_line(exc)}; nothing installed") from None
        except tuf_errors.LengthOrHashMismatchError as exc:
            raise UpdateError(f"hash or length mismatch: {_line(exc)}; nothing installed") from None
        except tuf_errors.RepositoryError as exc:
            raise UpdateError(f"signed metadata rejected: {_line(exc)}") from None
        except tuf_errors.DownloadLengthMismatchError as exc:
            raise UpdateError(f"repository sent too much data: {_line(exc)}") from None
        except tuf_errors.SlowRetrievalError as exc:
            raise UpdateError(f"repository too slow: {_line(exc)}") from None
        except tuf_errors.DownloadHTTPError as exc:
            raise UpdateError(f"repository error: {_line(exc)}") from None
        except tuf_errors.DownloadError as exc:
            cause = exc.__cause__
            detail = type(cause).__name__ if cause else _line(exc)
            raise UpdateError(
                f"cannot reach the repository at {self.metadata_url} ({detail})"
            ) from None
        except OSError as exc:
            raise UpdateError(
                f"cannot store TUF metadata in {self.metadata_dir}: {exc.strerror}"
            ) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise UpdateError(f"malformed TUF metadata: {_line(exc)}") from None


def parse_channel(data: bytes, process: str) -> Channel:
    """Strictly parse ``channels/<process>.json`` (docs/contract.md, Release repository)."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UpdateError(f"channel for {process} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise UpdateError(f"channel for {process} is not a JSON object")
    releases = {}
    for role in ("minimum", "suggested"):
        if role not in doc:
            raise UpdateError(f"channel for {process} has no {role!r}")
        releases[role] = _release(doc[role], f"channel {process}: {role}")
    rollout = doc.get("rollout")
    if not isinstance(rollout, dict):
        raise UpdateError(f"channel {process}: rollout must be an object with seed and cursor")
    seed, cursor = (
        _rollout_bytes(rollout.get(k), f"channel {process}: rollout.{k}")
        for k in ("seed", "cursor")
    )
    revoked = doc.get("revoked", [])
    if not isinstance(revoked, list):
        raise UpdateError(f"channel {process}: revoked must be a list of versions")
    for item in revoked:
        _version(item, f"channel {process}: revoked")
    return Channel(
        process, releases["minimum"], releases["suggested"], Rollout(seed, cursor), tuple(revoked)
    )


def _release(value: object, where: str) -> Release | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UpdateError(f"{where} must be an object with version and url")
    version = value.get("version")
    url = value.get("url")
    if version == "" and url in ("", None):
        return None
    _version(version, where)
    if not isinstance(url, str):
        raise UpdateError(f"{where}: url must be a string")
    _check_target_path(url, f"{where}: url")
    assert isinstance(version, str)
    return Release(version, url)


def _version(value: object, where: str) -> None:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        Version.parse(value)
    except ValueError:
        raise UpdateError(f"{where}: {value!r} is not a version") from None


def _rollout_bytes(value: object, where: str) -> bytes:
    if value == "":
        return b""
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise UpdateError(f"{where} must be 64 hex digits")
    return bytes.fromhex(value)


def _check_target_path(path: str, where: str) -> None:
    if not _TARGET_PATH.fullmatch(path) or any(part in (".", "..") for part in path.split("/")):
        raise UpdateError(f"{where} {path!r} is not a relative target path")


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
