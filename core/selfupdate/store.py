"""The core's install store: ``<data_dir>/core/versions/<v>/``, one unpacked core bundle each.

The same mechanism as the node's store (:class:`VersionFolders`): a bundle
is unpacked into ``<v>.tmp``, checked (its manifest names this version and
platform, its entry is an executable file), fsync'd file by file and only
then renamed into place, so a crash leaves a complete version or a
``.tmp`` folder that :meth:`remove_incomplete` clears. Which version runs
is state.json's ``self_update`` pointer, never a rename of a running core.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from nodekeeper.core.fsutil import fsync_dir
from nodekeeper.core.selfupdate.manifest import (
    MANIFEST_NAME,
    ManifestError,
    check_manifest,
    read_manifest,
    this_platform,
)
from nodekeeper.core.update.store import TMP_SUFFIX, VersionFolders, fsync_file
from nodekeeper.core.update.unpack import unpack_bundle
from nodekeeper.core.update.version import Version

# The versions prune must keep whatever the caller says: current, previous, trying.
Protected = Callable[[], Iterable[str | None]]


class CoreStore(VersionFolders):
    def __init__(
        self,
        data_dir: Path,
        *,
        platform: str | None = None,
        protected: Protected | None = None,
    ) -> None:
        super().__init__(data_dir / "core" / "versions")
        self._platform = platform
        self._protected = protected or (lambda: _in_use(data_dir / "state.json"))

    @property
    def platform(self) -> str:
        if self._platform is None:
            self._platform = this_platform()
        return self._platform

    def complete(self, folder: Path) -> bool:
        return (folder / MANIFEST_NAME).is_file()

    def path(self, version: str) -> Path:
        return self.root / version

    def executable(self, version: str) -> Path:
        """The entry executable of an installed version (ManifestError if it is not installed)."""
        folder = self.path(version)
        return folder / read_manifest(folder).entry

    def installed(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(super().installed())

    def install_archive(self, version: str, archive: Path) -> Path:
        """Unpack a verified bundle archive as ``version``; the installed folder.

        Anything wrong (not a bundle, another version or platform, no
        executable entry) leaves nothing installed and raises one line.
        """
        try:
            Version.parse(version)  # also keeps the folder name inside the store
        except ValueError:
            raise ManifestError(f"{version!r} is not a core version like 0.3.0") from None
        staging = self.staging_dir(version)
        try:
            unpack_bundle(archive, staging)
            manifest = read_manifest(staging)
            check_manifest(
                manifest, version=version, platform=self.platform, where=f"bundle {archive.name}"
            )
            entry = staging / manifest.entry
            if not entry.is_file() or not os.access(entry, os.X_OK):
                raise ManifestError(
                    f"bundle {archive.name} names {manifest.entry!r} as its entry, "
                    "but that is not an executable file in it"
                )
            _fsync_tree(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.rename_into_place(version)

    def prune(self, keep: set[str]) -> list[str]:
        """Remove installed versions not in ``keep``; current, previous and trying always stay."""
        kept = keep | {v for v in self._protected() if v is not None}
        removed = []
        for version in self.installed():
            if version not in kept:
                self.remove(version)
                removed.append(version)
        return removed


def _in_use(state_file: Path) -> tuple[str | None, ...]:
    """current, previous and trying as state.json records them."""
    from nodekeeper.core.state import StateStore

    saved = StateStore(state_file).load().self_update
    trying = saved.trying
    return (
        saved.current,
        saved.previous,
        trying.version if trying else None,
        trying.previous if trying else None,
    )


def _fsync_tree(folder: Path) -> None:
    """Every file and folder of a bundle on disk before the rename makes it visible."""
    for parent, dirs, files in os.walk(folder):
        for name in files:
            path = Path(parent, name)
            if not path.is_symlink():
                fsync_file(path)
        for name in dirs:
            if not Path(parent, name).is_symlink():
                fsync_dir(Path(parent, name))
    fsync_dir(folder)


__all__ = ["TMP_SUFFIX", "CoreStore"]
