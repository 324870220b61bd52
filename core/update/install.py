"""Putting a downloaded release into the install store, and taking it out again.

The I/O steps between "verified archive" and "version ready to switch to":
the disk check before a download, unpacking into ``<v>.tmp``, the rename
into place, the smoke test, and removing a version that failed. A scanner
may hold, delete or lock a new file for a moment, so unpacking and removal
are retried with :data:`INSTALL_RETRY_DELAYS`. It never touches the
running version or state.json.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.update.errors import NotEnoughSpace, UpdateError
from nodekeeper.core.update.store import TMP_SUFFIX, VersionStore
from nodekeeper.core.update.unpack import unpack_release

_log = logging.getLogger(__name__)

# The new binary may be deleted, locked or made non-executable by an anti-virus
# right after unpacking: retry the install this many times, with these delays.
INSTALL_RETRY_DELAYS = (1.0, 3.0, 10.0)

Sleep = Callable[[float], Awaitable[None]]
SmokeTest = Callable[[Path, str], None]


class Installer:
    def __init__(
        self,
        store: VersionStore,
        downloads: Path,
        *,
        min_free_space: int,
        smoke_test: SmokeTest,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.downloads = downloads
        self._min_free_space = min_free_space
        self.smoke_test = smoke_test
        self._sleep = sleep

    def check_disk(self) -> None:
        """Refuse, before anything is downloaded, an install the data dir cannot take.

        A read-only or full disk is found here with one clear line, instead
        of part-way through a download or an unpack.
        """
        for folder in (self.downloads, self.store.root):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryFile(dir=folder):
                    pass
            except OSError as exc:
                raise UpdateError(
                    f"cannot write to {folder} ({exc.strerror or exc}); "
                    "updating needs a writable data dir"
                ) from None
        free = shutil.disk_usage(self.downloads).free
        if free < self._min_free_space:
            raise NotEnoughSpace(
                f"not enough disk space in {self.downloads}: {free // 2**20} MiB free, "
                f"updates.min_free_space is {self._min_free_space // 2**20} MiB"
            )

    async def install(self, archive: Path, version: str) -> None:
        """Unpack, rename into place and smoke-test; retried, then the version is discarded."""
        loop = asyncio.get_running_loop()
        for attempt, delay in enumerate((0.0, *INSTALL_RETRY_DELAYS)):
            await self._sleep(delay)
            try:
                await loop.run_in_executor(None, self._unpack_and_test, archive, version)
                return
            except (NodekeeperError, OSError) as exc:
                # OSError: e.g. the rename into place refused while a scanner holds the folder.
                problem = describe(exc)
                if attempt == len(INSTALL_RETRY_DELAYS):
                    await self.discard(version)
                    raise UpdateError(
                        f"installing {version} failed {attempt + 1} times: {problem}"
                    ) from None
                _log.warning(
                    "installing %s failed (%s); retrying in %gs",
                    version,
                    problem,
                    INSTALL_RETRY_DELAYS[attempt],
                )

    def _unpack_and_test(self, archive: Path, version: str) -> None:
        staging = self.store.staging_dir(version)
        unpack_release(archive, staging, binary_name=self.store.binary_name)
        binary = self.store.commit_staging(version)
        self.smoke_test(binary, version)

    async def discard(self, version: str) -> None:
        """Remove a version that failed to install, staging folder included.

        Whatever blocked the install (an anti-virus scan) may still hold the
        folders for a moment: retry the removal with the install's delays.
        """
        loop = asyncio.get_running_loop()
        for delay in (0.0, *INSTALL_RETRY_DELAYS):
            await self._sleep(delay)
            left = await loop.run_in_executor(None, self._remove_version, version)
            if not left:
                return
        _log.warning("cannot remove %s; retried at the next install or start", ", ".join(left))

    def _remove_version(self, version: str) -> list[str]:
        """Remove ``<v>`` and ``<v>.tmp``; the paths that are still there."""
        names = (version, version + TMP_SUFFIX)
        for name in names:
            self.store.remove(name)
        return [str(self.store.root / n) for n in names if (self.store.root / n).exists()]


def describe(exc: BaseException) -> str:
    """One line for ``last_error``: nodekeeper's own message, or what the OS refused and where."""
    if isinstance(exc, OSError) and not isinstance(exc, NodekeeperError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return str(exc)
