"""One interface over the three release sources (docs/contract.md, Release repository).

The updater needs two things from a source: the current :class:`Channel`
and, for one release of it, a downloaded and verified archive. TUF
verifies through its signed target info; the storj and github sources
describe an :class:`Artifact` that is downloaded with the same resumable
downloader and then verified against its checksum and signature.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from nodekeeper.core.config import Config
from nodekeeper.core.update.channel import Channel, Release
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.sources.artifact import platform_names

if TYPE_CHECKING:
    from nodekeeper.core.update.sources.artifact import Artifact

Progress = Callable[[int, int], None]


class ReleaseSource(Protocol):
    name: str

    def fetch_channel(self) -> Channel: ...

    def fetch_release(
        self, release: Release, downloads: Path, *, min_free_space: int, progress: Progress | None
    ) -> Path:
        """Download ``release`` for this platform into ``downloads``; the verified archive."""
        ...


class _ArtifactSource(Protocol):
    def fetch_channel(self) -> Channel: ...

    def artifact(self, release: Release) -> Artifact: ...

    def download(
        self,
        artifact: Artifact,
        downloads_dir: Path,
        *,
        min_free_space: int,
        progress: Progress | None,
    ) -> Path: ...


class WebSource:
    """The storj and github sources: plain HTTPS plus checksum/signature checks."""

    def __init__(self, name: str, source: _ArtifactSource) -> None:
        self.name = name
        self._source = source

    def fetch_channel(self) -> Channel:
        return self._source.fetch_channel()

    def fetch_release(
        self, release: Release, downloads: Path, *, min_free_space: int, progress: Progress | None
    ) -> Path:
        artifact = self._source.artifact(release)
        return self._source.download(
            artifact, downloads, min_free_space=min_free_space, progress=progress
        )


class SignedSource:
    """The TUF source: every byte checked against signed metadata."""

    name = "tuf"

    def __init__(self, source: object) -> None:
        from nodekeeper.core.update.sources.tuf import TufSource

        assert isinstance(source, TufSource)
        self._source = source

    def fetch_channel(self) -> Channel:
        return self._source.fetch_channel()

    def fetch_release(
        self, release: Release, downloads: Path, *, min_free_space: int, progress: Progress | None
    ) -> Path:
        os_name, arch = platform_names()
        info = self._source.artifact_info(release.url, os_name, arch)
        return self._source.download(
            info, downloads, min_free_space=min_free_space, progress=progress
        )


class LazySource:
    """Builds the real source on first use, so the core loads the HTTP and TUF
    libraries only when it first checks (an idle core stays small)."""

    def __init__(self, name: str, build: Callable[[], ReleaseSource]) -> None:
        self.name = name
        self._build = build
        self._source: ReleaseSource | None = None

    def _get(self) -> ReleaseSource:
        if self._source is None:
            self._source = self._build()
        return self._source

    def fetch_channel(self) -> Channel:
        return self._get().fetch_channel()

    def fetch_release(
        self, release: Release, downloads: Path, *, min_free_space: int, progress: Progress | None
    ) -> Path:
        return self._get().fetch_release(
            release, downloads, min_free_space=min_free_space, progress=progress
        )


def open_source(config: Config) -> ReleaseSource:
    """The configured release source; raises UpdateError with one line if it cannot work."""
    updates = config.updates
    if updates.source == "tuf":
        root = updates.trusted_root
        if root is None or not root.is_file() or not os.access(root, os.R_OK):
            raise UpdateError(f"trusted_root {root} is not a readable file")
    return LazySource(updates.source, lambda: _build(config))


def _build(config: Config) -> ReleaseSource:
    updates = config.updates
    if updates.source == "tuf":
        from nodekeeper.core.update.sources.tuf import TufSource

        assert updates.trusted_root is not None  # checked by open_source
        return SignedSource(
            TufSource(
                url=updates.url,
                trusted_root=updates.trusted_root,
                metadata_dir=config.paths.data_dir / "tuf",
                process=updates.process,
                allow_http=updates.allow_http,
            )
        )
    if updates.source == "github":
        from nodekeeper.core.update.sources.github import GithubSource

        github = GithubSource(
            updates.url,
            updates.repository,
            updates.public_key,
            updates.allow_http,
            process=updates.process,
        )
        return WebSource("github", github)
    from nodekeeper.core.update.sources.storj import StorjSource

    storj = StorjSource(updates.url, updates.process, updates.allow_http)
    return WebSource("storj", storj)
