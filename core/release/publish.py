"""All-or-nothing writes to a release repository.

A ``Publication`` collects the files one command produces and writes them
in the order clients need: every new immutable file first, the single
mutable file (``metadata/timestamp.json``) last, each through a temporary
file, fsync and rename. If anything fails, every file it created is
removed and every file it replaced gets its old bytes back, so the
repository is byte-for-byte what it was. An exclusive lock on the
repository directory keeps two publishers from interleaving.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from nodekeeper.core.fsutil import write_atomic
from nodekeeper.core.platform import filelock
from nodekeeper.core.release.errors import ReleaseError

TIMESTAMP = "metadata/timestamp.json"

# The one seam for writing bytes: tests swap it to fail at a chosen file.
Writer = Callable[[Path, "bytes | Path"], None]


def write_durably(path: Path, data: bytes | Path) -> None:
    """Write ``data`` (bytes, or the contents of a file) to ``path`` atomically."""
    write_atomic(path, data)


def _same_content(path: Path, content: bytes | Path) -> bool:
    if isinstance(content, Path):
        return filecmp.cmp(path, content, shallow=False)
    return path.read_bytes() == content


@contextlib.contextmanager
def locked(repo_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the repository for one command."""
    # Through the platform's lock: Windows has no flock (msvcrt.locking on a .lock file).
    lock = filelock.lock_directory(repo_dir)
    if lock is None:
        raise ReleaseError(
            f"another release command is working on {repo_dir}; try again when it is done"
        )
    try:
        yield
    finally:
        lock.release()


class Publication:
    def __init__(self, repo_dir: Path, *, writer: Writer = write_durably) -> None:
        self.repo_dir = repo_dir
        self._writer = writer
        self._files: dict[str, bytes | Path] = {}

    def add(self, relpath: str, content: bytes | Path) -> None:
        """Queue a file; ``content`` may be a path to copy (large artifacts)."""
        if relpath == TIMESTAMP:
            raise ValueError("timestamp.json is written by commit(), last")
        self._files[relpath] = content

    def commit(self, timestamp: bytes) -> list[str]:
        """Write the queued files, then timestamp.json; undo everything on failure."""
        created: list[Path] = []
        replaced: list[tuple[Path, bytes]] = []
        new_dirs: list[Path] = []
        try:
            for relpath, content in [*self._files.items(), (TIMESTAMP, timestamp)]:
                path = self.repo_dir / relpath
                self._make_parents(path.parent, new_dirs)
                if path.exists():
                    if _same_content(path, content):
                        continue
                    replaced.append((path, path.read_bytes()))
                else:
                    created.append(path)
                self._writer(path, content)
        except BaseException as exc:
            self._undo(created, replaced, new_dirs)
            if isinstance(exc, OSError):
                name = exc.filename or "the repository"
                reason = exc.strerror or os.strerror(exc.errno or errno.EIO)
                raise ReleaseError(
                    f"cannot write {name}: {reason}; the repository is unchanged"
                ) from None
            raise
        return [str(p.relative_to(self.repo_dir)) for p in created + [p for p, _ in replaced]]

    def _make_parents(self, directory: Path, new_dirs: list[Path]) -> None:
        missing: list[Path] = []
        for parent in [directory, *directory.parents]:
            if parent.exists():
                break
            missing.append(parent)
        for parent in reversed(missing):
            parent.mkdir()
            new_dirs.append(parent)

    def _undo(
        self, created: list[Path], replaced: list[tuple[Path, bytes]], new_dirs: list[Path]
    ) -> None:
        # Restoring uses plain writes, not the swappable writer: the undo must not be the
        # thing a test makes fail.
        for path, old in reversed(replaced):
            with contextlib.suppress(OSError):
                write_durably(path, old)
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.unlink()
        for directory in reversed(new_dirs):
            with contextlib.suppress(OSError):
                directory.rmdir()
        for directory in {p.parent for p in created} | {p.parent for p, _ in replaced}:
            for leftover in directory.glob(".*.tmp") if directory.exists() else ():
                with contextlib.suppress(OSError):
                    leftover.unlink()
