"""The publisher's repository lock, through the platform's file-lock seam."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from nodekeeper.core.platform import filelock
from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.publish import locked


def test_a_locked_directory_cannot_be_locked_again_until_released(tmp_path: Path) -> None:
    first = filelock.lock_directory(tmp_path)
    assert first is not None
    assert filelock.lock_directory(tmp_path) is None
    first.release()
    again = filelock.lock_directory(tmp_path)
    assert again is not None
    again.release()


def test_a_locked_file_cannot_be_locked_again_until_released(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    first = filelock.lock_file(path)
    assert first is not None and path.is_file()
    assert filelock.lock_file(path) is None
    first.release()
    first.release()  # twice is harmless
    again = filelock.lock_file(path)
    assert again is not None
    again.release()


def test_a_refused_lock_closes_its_file(tmp_path: Path) -> None:
    seen: list[int] = []

    def taken_elsewhere(fd: int) -> bool:
        seen.append(fd)
        return False

    assert filelock.lock_file(tmp_path / "lock", lock=taken_elsewhere) is None
    with pytest.raises(OSError):
        os.fstat(seen[0])


def test_a_failing_lock_call_closes_its_file(tmp_path: Path) -> None:
    seen: list[int] = []

    def broken(fd: int) -> bool:
        seen.append(fd)
        raise OSError("no locks on this file system")

    with pytest.raises(OSError, match="no locks"):
        filelock.lock_file(tmp_path / "lock", lock=broken)
    with pytest.raises(OSError):
        os.fstat(seen[0])


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX locks the directory itself")
def test_posix_locks_the_directory_itself_and_leaves_no_file(tmp_path: Path) -> None:
    lock = filelock.lock_directory(tmp_path)
    assert lock is not None
    lock.release()
    assert list(tmp_path.iterdir()) == []


def test_a_second_release_command_on_one_repository_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    with locked(tmp_path), pytest.raises(ReleaseError) as refused, locked(tmp_path):
        pass
    assert "another release command is working on" in str(refused.value)
    assert "\n" not in str(refused.value)
    with locked(tmp_path):  # released on the way out
        pass
