"""Private release keys never end up published or written where another user points.

`release init REPO --key-file REPO/keys.json` used to be accepted, and
`release serve REPO` then served every private key; the key file was
written through a predictable `<name>.tmp` that followed symbolic links,
so another user with write access to the folder (a sticky /tmp-like one,
`fs.protected_symlinks=0`) got the root key.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.fixtures.local_users import as_user, needs_root
from tests.helpers import release_serve, run_cli


def release(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("release", *args)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode in (1, 2), result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


def test_a_key_file_inside_the_repository_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for key_file in (repo / "keys.json", repo / "metadata" / "keys.json"):
        line = one_line(release("init", repo, "--key-file", key_file))
        assert "inside the repository folder" in line
        assert not key_file.exists() and not (repo / "metadata").exists()
    # An existing repository: no command reads keys from inside it either.
    assert release("init", repo, "--key-file", tmp_path / "keys.json").returncode == 0
    shutil.copy2(tmp_path / "keys.json", repo / "keys.json")
    line = one_line(release("refresh", repo, "--key-file", repo / "keys.json"))
    assert "inside the repository folder" in line


def test_serve_answers_only_metadata_and_targets(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert release("init", repo, "--key-file", tmp_path / "keys.json").returncode == 0
    # Whatever a careless publisher leaves in the folder stays private.
    shutil.copy2(tmp_path / "keys.json", repo / "keys.json")
    (repo / "metadata" / "leak.json").symlink_to(tmp_path / "keys.json")
    with release_serve(repo) as url:
        assert requests.get(url + "metadata/timestamp.json", timeout=5).status_code == 200
        for path in ("keys.json", "metadata/leak.json", "metadata/../keys.json", ""):
            response = requests.get(url + path, timeout=5)
            assert response.status_code == 404, path
            assert b'"keys"' not in response.content
        assert requests.head(url + "keys.json", timeout=5).status_code == 404


@pytest.fixture
def sticky_folder() -> Iterator[Path]:
    """A /tmp-like folder: everyone may write, the sticky bit set, symlink protection off."""
    path = Path(tempfile.mkdtemp(prefix="nk-sticky-"))
    path.chmod(0o1777)
    sysctl = Path("/proc/sys/fs/protected_symlinks")
    before = sysctl.read_text().strip() if sysctl.exists() else None
    try:
        if before not in (None, "0"):
            try:
                sysctl.write_text("0")
            except OSError:
                pytest.skip("cannot switch off fs.protected_symlinks here")
        yield path
    finally:
        if before not in (None, "0"):
            sysctl.write_text(before)
        shutil.rmtree(path, ignore_errors=True)


@needs_root[0]
@needs_root[1]
def test_another_user_cannot_get_a_key_through_a_planted_link(
    other_user: pwd.struct_passwd, sticky_folder: Path, tmp_path: Path
) -> None:
    # The other user plants links where the key file and its old temporary name go,
    # pointing into a file of theirs.
    loot = sticky_folder / "loot"
    plant = (
        f"import os; open({str(loot)!r}, 'w').close(); os.chmod({str(loot)!r}, 0o666);"
        f"os.symlink({str(loot)!r}, {str(sticky_folder / 'keys.json.tmp')!r})"
    )
    subprocess.run(as_user(other_user, [sys.executable, "-c", plant]), check=True, timeout=30)
    line = one_line(release("init", tmp_path / "repo", "--key-file", sticky_folder / "keys.json"))
    assert "can be changed by other users" in line
    assert loot.read_text() == ""
    assert not (sticky_folder / "keys.json").exists()
    assert not (tmp_path / "repo" / "metadata").exists()
    # In a folder only the publisher can write to, the key file is private.
    private = tmp_path / "keys"
    assert release("init", tmp_path / "repo", "--key-file", private / "keys.json").returncode == 0
    assert stat.S_IMODE(os.stat(private / "keys.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700
