"""Symlink attacks by a second user in a sticky folder, with fs.protected_symlinks=0.

The attacker plants links, under the names the core writes, to a file only
root may write. Every write of the core (state, pid file and status through
the atomic-write helper; downloads) must leave that file alone, and a root
core refuses to start at all with a data or logs folder others can write in.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.fsutil import write_atomic
from nodekeeper.core.update.download import download_file
from tests.faults.security.conftest import OtherUser
from tests.helpers import REPO, CoreHarness
from tests.integration.update.web_release_server import bytes_reply, release_server

SECRET = b"root's own file\n"
pytestmark = pytest.mark.usefixtures("unprotected_symlinks")


def victim_file(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.write_bytes(SECRET)
    victim.chmod(0o600)
    return victim


def test_the_atomic_write_never_writes_through_a_planted_link(
    tmp_path: Path, sticky_dir: Path, second_user: OtherUser
) -> None:
    victim = victim_file(tmp_path)
    target = sticky_dir / "state.json"
    # The old predictable temporary name, and the file itself.
    for name in (".state.json.tmp", "state.json"):
        second_user.run("ln", "-s", str(victim), str(sticky_dir / name))
    write_atomic(target, b'{"current": "1.2.3"}\n')
    assert victim.read_bytes() == SECRET
    assert not target.is_symlink() and target.read_bytes() == b'{"current": "1.2.3"}\n'
    assert [p.name for p in sticky_dir.iterdir() if p.name.endswith(".tmp")] == [
        ".state.json.tmp"
    ], "a temporary file was left behind"


def test_a_download_never_writes_through_a_planted_part_file(
    tmp_path: Path, sticky_dir: Path, second_user: OtherUser
) -> None:
    victim = victim_file(tmp_path)
    payload = b"release bytes" * 1000
    second_user.run("ln", "-s", str(victim), str(sticky_dir / "artifact.part"))
    with release_server() as server:
        server.routes["/artifact"] = bytes_reply(payload)
        with pytest.raises(NodekeeperError, match=r"artifact\.part"):
            download_file(
                server.url("/artifact"),
                sticky_dir,
                expected_length=len(payload),
                expected_sha256=hashlib.sha256(payload).hexdigest(),
                max_length=1 << 20,
                min_free_space=0,
                allow_http=True,
                name="artifact",
            )
    assert victim.read_bytes() == SECRET


@pytest.mark.parametrize("folder", ["data", "logs"])
def test_a_root_core_refuses_a_folder_others_can_write(
    core: CoreHarness, sticky_dir: Path, folder: str
) -> None:
    if folder == "data":
        core.data_dir = sticky_dir
        core.extra["paths"] = {"data_dir": str(sticky_dir)}
    else:
        core.extra["logs"] = {"dir": str(sticky_dir)}
    config = core.write_config()
    run = subprocess.run(
        [sys.executable, "-m", "nodekeeper.core", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    key = "paths.data_dir" if folder == "data" else "logs.dir"
    assert f"{key}: {sticky_dir} is writable by every user (mode 1777)" in lines[0]
    assert core.node_pids() == []
