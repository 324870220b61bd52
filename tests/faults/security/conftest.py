"""Fixtures of the security fault tests: real second users, shared and sticky folders,
a machine without symlink protection."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.local_users import other_user, shared_dir

__all__ = ["other_user", "second_user", "shared_dir", "sticky_dir", "unprotected_symlinks"]

PROTECTED_SYMLINKS = Path("/proc/sys/fs/protected_symlinks")


@dataclass(frozen=True)
class OtherUser:
    name: str
    uid: int
    gid: int

    def run(self, *argv: str) -> None:
        """Run ``argv`` as this user (setpriv: no root left, no supplementary groups)."""
        subprocess.run(
            ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", *argv],
            check=True,
        )


@pytest.fixture
def second_user() -> Iterator[OtherUser]:
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to create a second user")
    name = f"nkx{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
    try:
        import pwd

        entry = pwd.getpwnam(name)
        yield OtherUser(name, entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def unprotected_symlinks() -> Iterator[None]:
    """fs.protected_symlinks=0 (as on older or misconfigured systems); restored after."""
    try:
        before = PROTECTED_SYMLINKS.read_text().strip()
        PROTECTED_SYMLINKS.write_text("0\n")
    except OSError as exc:
        pytest.skip(f"cannot set fs.protected_symlinks: {exc}")
    try:
        yield
    finally:
        PROTECTED_SYMLINKS.write_text(before + "\n")


@pytest.fixture
def sticky_dir() -> Iterator[Path]:
    """A world-writable sticky folder every user can reach (like /tmp)."""
    folder = Path(tempfile.mkdtemp(prefix="nk-sticky-", dir="/tmp"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
