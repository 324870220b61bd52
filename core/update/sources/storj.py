"""Release source: Storj's version server (docs/contract.md, Release repository).

``GET {url}`` returns, per process, the ``minimum`` and ``suggested``
releases (``{"version", "url"}``, the url a template with ``{os}`` and
``{arch}``) and a ``rollout`` (``seed``, ``cursor``: 64 hex digits or ""
for zeros). This module turns that into a :class:`Channel` after strict
validation, so every malformed answer is one line naming the field. The
server signs nothing: https is required (unless ``allow_http``) and the
updater smoke-tests the new binary before switching to it.

Conditional GET (ETag / If-None-Match) keeps a fleet's routine checks to a
few hundred bytes each; ``Retry-After`` reaches the scheduler through
:class:`UpdateError.retry_after`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nodekeeper.core.update.channel import Channel, Release, Rollout
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.sources.artifact import Artifact, DownloadsArtifacts, platform_names
from nodekeeper.core.update.sources.http import HttpClient, check_url
from nodekeeper.core.update.version import Version

if TYPE_CHECKING:  # requests loads with the first check, through the transport
    import requests

    from nodekeeper.core.transport.base import BaseTransport

_HEX = frozenset("0123456789abcdefABCDEF")


def expand_template(template: str, os_name: str, arch: str) -> str:
    """Fill ``{os}`` and ``{arch}`` (Go's names) into a release URL template."""
    return template.replace("{os}", os_name).replace("{arch}", arch)


class StorjSource(DownloadsArtifacts):
    name = "storj"

    def __init__(
        self,
        url: str,
        process: str = "storagenode",
        allow_http: bool = False,
        session: requests.Session | None = None,
        *,
        timeout: float = 30.0,
        os_name: str | None = None,
        arch: str | None = None,
        transport: BaseTransport | None = None,
    ) -> None:
        self.url = check_url(url, allow_http, "updates.url")
        self.process = process
        self.allow_http = allow_http
        self._http = HttpClient(allow_http, session, timeout, transport=transport)
        self._os, self._arch = platform_names(os_name, arch)
        self._etag: str | None = None
        self._cached: Channel | None = None

    def fetch_channel(self) -> Channel:
        """The current channel; the cached one when the server says "not modified"."""
        got = self._http.get_json(
            self.url, what="version server", etag=self._etag if self._cached else None
        )
        if got is None:
            assert self._cached is not None
            return self._cached
        document, etag = got
        channel = parse_version_document(document, self.process, self.url)
        self._etag, self._cached = etag, channel
        return channel

    def artifact(self, release: Release) -> Artifact:
        """Where to download ``release`` for this machine (no hash: Storj publishes none)."""
        url = expand_template(release.url, self._os, self._arch)
        check_url(url, self.allow_http, f"download URL of {release.version}")
        return Artifact(version=release.version, url=url)


def parse_version_document(document: Any, process: str, source: str = "version server") -> Channel:
    """Validate a version server answer and return the channel of ``process``."""
    where = f"{source}:"
    if not isinstance(document, Mapping):
        raise UpdateError(f"{where} answer is not a JSON object")
    processes = document.get("processes")
    if not isinstance(processes, Mapping):
        raise UpdateError(f'{where} answer has no "processes" object')
    entry = processes.get(process)
    if not isinstance(entry, Mapping):
        known = ", ".join(sorted(str(k) for k in processes)) or "none"
        raise UpdateError(f"{where} no process {process!r} (known: {known}); check updates.process")
    prefix = f"{where} processes.{process}"
    minimum = _release(entry.get("minimum"), f"{prefix}.minimum", optional=True)
    suggested = _release(entry.get("suggested"), f"{prefix}.suggested", optional=False)
    rollout = _rollout(entry.get("rollout"), f"{prefix}.rollout")
    revoked = _revoked(entry.get("revoked"), f"{prefix}.revoked")
    return Channel(process, minimum, suggested, rollout, revoked)


def _release(value: Any, where: str, optional: bool) -> Release | None:
    if value is None and optional:
        return None
    if not isinstance(value, Mapping):
        raise UpdateError(f"{where} is not an object")
    version, url = value.get("version"), value.get("url")
    if not isinstance(version, str):
        raise UpdateError(f"{where}.version is missing or not a string")
    if not isinstance(url, str):
        raise UpdateError(f"{where}.url is missing or not a string")
    if optional and version == "" and url == "":
        # The server's way of saying "no minimum".
        return None
    try:
        parsed = Version.parse(version)
    except ValueError:
        raise UpdateError(f"{where}.version is not a version: {version[:80]!r}") from None
    if not url:
        raise UpdateError(f"{where}.url is empty")
    return Release(str(parsed), url)


def _rollout_bytes(value: Any, where: str) -> bytes:
    if value is None or value == "":
        return bytes(32)
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= _HEX:
        shown = value[:80] if isinstance(value, str) else type(value).__name__
        raise UpdateError(f"{where} must be 64 hex digits or empty, got {shown!r}")
    return bytes.fromhex(value)


def _rollout(value: Any, where: str) -> Rollout:
    if value is None:
        return Rollout(bytes(32), bytes(32))
    if not isinstance(value, Mapping):
        raise UpdateError(f"{where} is not an object")
    return Rollout(
        seed=_rollout_bytes(value.get("seed"), f"{where}.seed"),
        cursor=_rollout_bytes(value.get("cursor"), f"{where}.cursor"),
    )


def _revoked(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise UpdateError(f"{where} is not a list")
    out = []
    for item in value:
        try:
            out.append(str(Version.parse(item)))
        except ValueError:
            raise UpdateError(f"{where} holds something that is not a version: {item!r}") from None
    return tuple(out)
