"""node.user / node.group at load, and which folders a root core refuses (pure checks)."""

from __future__ import annotations

import pwd
import stat
import sys
from pathlib import Path

import pytest

from nodekeeper.core.config import load_config
from nodekeeper.core.errors import ConfigError
from nodekeeper.core.folders import shared_folder_problem


def config_with(tmp_path: Path, node_extra: str) -> Path:
    path = tmp_path / "nodekeeper.toml"
    path.write_text(
        f'[node]\ncommand = ["/bin/true"]\n{node_extra}\n'
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
    )
    return path


def test_an_existing_user_and_group_are_accepted(tmp_path: Path) -> None:
    me = pwd.getpwuid(0).pw_name
    config = load_config(config_with(tmp_path, f'user = "{me}"\ngroup = "{me}"'))
    assert (config.node.user, config.node.group) == (me, me)


@pytest.mark.parametrize("key", ["user", "group"])
def test_an_unknown_account_is_one_line(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"node\.{key}: there is no {key} 'nk-nobody-here'"):
        load_config(config_with(tmp_path, f'{key} = "nk-nobody-here"'))


def test_windows_says_not_supported_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(ConfigError, match=r"node\.user: .*not supported on Windows yet"):
        load_config(config_with(tmp_path, 'user = "storj"'))


@pytest.mark.parametrize(
    ("mode", "gid", "problem"),
    [
        (0o750, 0, None),
        (0o770, 0, None),  # root's group is root
        (0o770, 1000, "writable by group 1000"),
        (0o1777, 0, "writable by every user"),
        (0o757, 0, "writable by every user"),
    ],
)
def test_shared_folders(mode: int, gid: int, problem: str | None) -> None:
    assert shared_folder_problem(stat.S_IFDIR | mode, gid) == problem
