"""Where the core's own releases come from: ``[self_update]`` as a release source.

The same sources as the node's (core/update/sources/): a TUF channel
(``nodekeeper`` by default, usually in the node's repository, with its own
trusted-metadata folder ``<data_dir>/core/tuf``) or signed GitHub releases
whose core bundles are ``.tar.gz`` or ``.zip`` assets.
"""

from __future__ import annotations

from nodekeeper.core.config import Config
from nodekeeper.core.update.sources.factory import ReleaseSource, SourceSettings, open_settings


def self_update_settings(config: Config) -> SourceSettings | None:
    """The source settings of ``[self_update]``; None when the core has no source."""
    self_update = config.self_update
    if self_update.url is None:
        return None
    return SourceSettings(
        kind=self_update.source,
        url=self_update.url,
        process=self_update.channel,
        allow_http=config.updates.allow_http,
        metadata_dir=config.paths.data_dir / "core" / "tuf",
        trusted_root=self_update.trusted_root,
        repository=self_update.repository or "",
        public_key=self_update.public_key,
        suffixes=(".tar.gz", ".zip"),
    )


def open_self_update_source(config: Config) -> ReleaseSource | None:
    """The core's release source (None without one); UpdateError with one line if unusable."""
    settings = self_update_settings(config)
    return None if settings is None else open_settings(settings)
