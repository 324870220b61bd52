"""Real second users for the security fault tests: created with useradd, removed after."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.helpers import REPO

needs_root = [
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv"
    ),
]


@pytest.fixture
def other_user() -> Iterator[pwd.struct_passwd]:
    """A fresh local user outside group nodekeeper."""
    name = f"nksec{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
        check=True,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)
        subprocess.run(["groupdel", name], check=False, capture_output=True)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the other user can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="nk-security-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_user(user: pwd.struct_passwd, argv: Sequence[str]) -> list[str]:
    """``argv`` run as ``user`` (its own groups only), through setpriv."""
    return [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--init-groups",
        *argv,
    ]


def popen_as(user: pwd.struct_passwd, *python_args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        as_user(user, [sys.executable, *python_args]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/"},
    )
