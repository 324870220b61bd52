"""Other local users: read-only at most, unless they are in group nodekeeper.

Creates a real user with ``useradd`` (removed afterwards) and runs the CLI
as that user with ``setpriv``. Needs root.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodekeeper.core.ipc.client import Client
from tests.fixtures.local_users import as_user, needs_root
from tests.helpers import REPO, CoreHarness
from tests.integration.ipc.support import FakeCore

pytestmark = needs_root


@pytest.fixture
def control_group() -> Iterator[grp.struct_group]:
    created = False
    try:
        grp.getgrnam("nodekeeper")
    except KeyError:
        subprocess.run(["groupadd", "nodekeeper"], check=True)
        created = True
    try:
        yield grp.getgrnam("nodekeeper")
    finally:
        if created:
            subprocess.run(["groupdel", "nodekeeper"], check=False)


def cli_as(user: pwd.struct_passwd, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        as_user(user, [sys.executable, "-m", "nodekeeper.core", *args]),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/"},
    )


def updates_enabled(core: FakeCore) -> bool:
    with Client(str(core.path)) as client:
        enabled: bool = client.call("status")["updates"]["enabled"]
        return enabled


def test_other_user_cannot_connect_to_the_0660_socket(
    other_user: pwd.struct_passwd, shared_dir: Path
) -> None:
    core = FakeCore(shared_dir / "core.sock")
    try:
        result = cli_as(other_user, "updates", "off", "--socket", str(core.path))
        assert result.returncode == 3, result.stderr
        assert "not allowed to connect" in result.stderr
        assert updates_enabled(core) is True
    finally:
        core.stop()


def test_other_user_who_can_connect_is_read_only(
    other_user: pwd.struct_passwd, shared_dir: Path
) -> None:
    core = FakeCore(shared_dir / "core.sock")
    try:
        core.path.chmod(0o666)  # an operator who opened the socket to everyone
        status = cli_as(other_user, "status", "--json", "--socket", str(core.path))
        assert status.returncode == 0, status.stderr
        for action in (("updates", "off"), ("restart",), ("check",)):
            result = cli_as(other_user, *action, "--socket", str(core.path))
            assert result.returncode == 1, result.stderr
            [line] = result.stderr.strip().splitlines()
            assert "not allowed" in line and "group nodekeeper" in line
        assert updates_enabled(core) is True
        with Client(str(core.path)) as client:
            assert client.call("status")["node"]["restarts"] == 0
    finally:
        core.stop()


def test_member_of_group_nodekeeper_can_switch_updates_off_and_on(
    other_user: pwd.struct_passwd, shared_dir: Path, control_group: grp.struct_group
) -> None:
    subprocess.run(["usermod", "-aG", "nodekeeper", other_user.pw_name], check=True)
    core = FakeCore(shared_dir / "core.sock")
    try:
        assert os.stat(core.path).st_gid == control_group.gr_gid
        off = cli_as(other_user, "updates", "off", "--socket", str(core.path))
        assert off.returncode == 0, off.stderr
        assert updates_enabled(core) is False
        on = cli_as(other_user, "updates", "on", "--socket", str(core.path))
        assert on.returncode == 0, on.stderr
        assert updates_enabled(core) is True
    finally:
        core.stop()


def test_real_core_other_user_read_only_and_group_member_in_control(
    core: CoreHarness,
    other_user: pwd.struct_passwd,
    shared_dir: Path,
    control_group: grp.struct_group,
) -> None:
    sock = shared_dir / "core.sock"
    core.extra["paths"] = {"socket": str(sock)}
    core.start()
    sock.chmod(0o666)  # let a non-member connect at all, to see it is read-only
    status = cli_as(other_user, "status", "--socket", str(sock))
    assert status.returncode == 0, status.stderr
    refused = cli_as(other_user, "updates", "on", "--socket", str(sock))
    assert refused.returncode == 1 and "not allowed" in refused.stderr
    with Client(str(sock)) as client:
        assert client.call("status")["updates"]["enabled"] is False
    subprocess.run(["usermod", "-aG", "nodekeeper", other_user.pw_name], check=True)
    allowed = cli_as(other_user, "updates", "on", "--socket", str(sock))
    assert allowed.returncode == 0, allowed.stderr
    with Client(str(sock)) as client:
        assert client.call("status")["updates"]["enabled"] is True
