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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class SourceSettings:
    """Everything that builds one release source, from ``[updates]`` or ``[self_update]``."""

    kind: str  # "tuf", "storj" or "github"
    url: str
    process: str  # TUF channel / storj process / github asset name
    allow_http: bool
    metadata_dir: Path  # the TUF client's trusted metadata
    trusted_root: Path | None = None
    repository: str = ""
    public_key: str | None = None
    suffixes: tuple[str, ...] = (".zip",)  # github: which assets are archives


def node_source_settings(config: Config) -> SourceSettings:
    updates = config.updates
    return SourceSettings(
        kind=updates.source,
        url=updates.url,
        process=updates.process,
        allow_http=updates.allow_http,
        metadata_dir=config.paths.data_dir / "tuf",
        trusted_root=updates.trusted_root,
        repository=updates.repository,
        public_key=updates.public_key,
    )


def open_source(config: Config) -> ReleaseSource:
    """The node's release source; raises UpdateError with one line if it cannot work."""
    return open_settings(node_source_settings(config))


def open_settings(settings: SourceSettings) -> ReleaseSource:
    """The release source ``settings`` describe; UpdateError with one line if it cannot work."""
    if settings.kind == "tuf":
        root = settings.trusted_root
        if root is None or not root.is_file() or not os.access(root, os.R_OK):
            raise UpdateError(f"trusted_root {root} is not a readable file")
    return LazySource(settings.kind, lambda: _build(settings))


def _build(settings: SourceSettings) -> ReleaseSource:
    if settings.kind == "tuf":
        from nodekeeper.core.update.sources.tuf import TufSource

        assert settings.trusted_root is not None  # checked by open_settings
        return SignedSource(
            TufSource(
                url=settings.url,
                trusted_root=settings.trusted_root,
                metadata_dir=settings.metadata_dir,
                process=settings.process,
                allow_http=settings.allow_http,
            )
        )
    if settings.kind == "github":
        from nodekeeper.core.update.sources.github import GithubSource

        github = GithubSource(
            settings.url,
            settings.repository,
            settings.public_key,
            settings.allow_http,
            process=settings.process,
            suffixes=settings.suffixes,
        )
        return WebSource("github", github)
    from nodekeeper.core.update.sources.storj import StorjSource

    storj = StorjSource(settings.url, settings.process, settings.allow_http)
    return WebSource("storj", storj)
