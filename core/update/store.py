"""The install store: one folder per installed version (docs/contract.md, Install store).

``<data_dir>/versions/<v>/<binary_name>``. A version becomes visible only by
renaming a complete, fsync'd ``<v>.tmp`` folder into place, so a crash
leaves either no folder or a complete one. The running binary is never
overwritten or renamed; switching versions changes only the pointer in
state.json.
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


class VersionStore:
    def __init__(self, data_dir: Path, binary_name: str) -> None:
        self.root = data_dir / "versions"
        self.binary_name = binary_name + (".exe" if sys.platform == "win32" else "")

    def binary_path(self, version: str) -> Path:
        return self.root / version / self.binary_name

    def has(self, version: str) -> bool:
        return self.binary_path(version).is_file()

    def installed(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if not entry.name.endswith(TMP_SUFFIX) and (entry / self.binary_name).is_file()
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

    def commit_staging(self, version: str) -> Path:
        """fsync the staged binary and folder, then rename ``<v>.tmp`` to ``<v>``."""
        staging = self.root / (version + TMP_SUFFIX)
        binary = staging / self.binary_name
        if not binary.is_file():
            raise OperationFailed(f"{binary} is missing after unpacking")
        fd = os.open(binary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(staging)
        final = self.root / version
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        fsync_dir(self.root)
        return final / self.binary_name

    def install_file(self, version: str, source: Path) -> Path:
        """Copy an existing executable in as ``version`` (adoption of ``initial_binary``)."""
        staging = self.staging_dir(version)
        target = staging / self.binary_name
        shutil.copyfile(source, target)
        mode = os.stat(target).st_mode
        os.chmod(target, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR)
        return self.commit_staging(version)

    def remove(self, version: str) -> None:
        shutil.rmtree(self.root / version, ignore_errors=True)
