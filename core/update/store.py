"""The install store: one folder per installed version (docs/contract.md, Install store).

``<data_dir>/versions/<v>/<binary_name>``. A version becomes visible only by
renaming a complete, fsync'd ``<v>.tmp`` folder into place, so a crash
leaves either no folder or a complete one. The running binary is never
overwritten or renamed; switching versions changes only the pointer in
state.json.

:class:`VersionFolders` is that mechanism for any versioned folder; the
node's :class:`VersionStore` and the core's own store
(:mod:`nodekeeper.core.selfupdate.store`) differ only in what makes a
folder complete.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.fsutil import fsync_dir

TMP_SUFFIX = ".tmp"


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class VersionFolders:
    """``root/<v>/`` folders that appear only complete, by renaming ``<v>.tmp``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def complete(self, folder: Path) -> bool:
        """True when ``folder`` holds a whole installed version."""
        raise NotImplementedError

    def has(self, version: str) -> bool:
        return self.complete(self.root / version)

    def installed(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if not entry.name.endswith(TMP_SUFFIX) and self.complete(entry)
        )

    def remove_incomplete(self) -> list[str]:
        """Delete ``*.tmp`` folders left by an interrupted install."""
        removed = []
        if self.root.is_dir():
            for entry in self.root.iterdir():
                if entry.name.endswith(TMP_SUFFIX):
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(entry.name)
        return removed

    def staging_dir(self, version: str) -> Path:
        """A fresh, empty ``<v>.tmp`` folder to unpack a new version into."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / (version + TMP_SUFFIX)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        return staging

    def rename_into_place(self, version: str) -> Path:
        """Rename the (already fsync'd) ``<v>.tmp`` to ``<v>`` and fsync the root; the folder."""
        staging = self.root / (version + TMP_SUFFIX)
        final = self.root / version
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        fsync_dir(self.root)
        return final

    def remove(self, version: str) -> None:
        shutil.rmtree(self.root / version, ignore_errors=True)


class VersionStore(VersionFolders):
    """The node's versions: ``<data_dir>/versions/<v>/<binary_name>``."""

    def __init__(self, data_dir: Path, binary_name: str) -> None:
        super().__init__(data_dir / "versions")
        self.binary_name = binary_name + (".exe" if sys.platform == "win32" else "")

    def complete(self, folder: Path) -> bool:
        return (folder / self.binary_name).is_file()

    def binary_path(self, version: str) -> Path:
        return self.root / version / self.binary_name

    def commit_staging(self, version: str) -> Path:
        """fsync the staged binary and folder, then rename ``<v>.tmp`` to ``<v>``."""
        staging = self.root / (version + TMP_SUFFIX)
        binary = staging / self.binary_name
        if not binary.is_file():
            raise OperationFailed(f"{binary} is missing after unpacking")
        fsync_file(binary)
        fsync_dir(staging)
        return self.rename_into_place(version) / self.binary_name

    def install_file(self, version: str, source: Path) -> Path:
        """Copy an existing executable in as ``version`` (adoption of ``initial_binary``)."""
        staging = self.staging_dir(version)
        target = staging / self.binary_name
        shutil.copyfile(source, target)
        mode = os.stat(target).st_mode
        os.chmod(target, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR)
        return self.commit_staging(version)
