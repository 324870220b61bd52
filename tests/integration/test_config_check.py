"""`nodekeeper config check [FILE]`: 0 for a config the core accepts, 2 and one line otherwise."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers import run_cli


def check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("config", "check", *args, env={**os.environ, **(env or {})})


def write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "node.toml"
    path.write_text(
        f'instance = "sn1"\n[node]\ncommand = ["/bin/true"]\n{extra}'
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\nsocket = "{tmp_path / "s.sock"}"\n'
    )
    return path


def test_a_good_config_passes(tmp_path: Path) -> None:
    result = check(str(write(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert "ok (instance sn1" in result.stdout


def test_a_bad_key_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'restrat_delay = "1s"\n')
    result = check(str(path))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert str(path) in line and "node.restrat_delay" in line
    assert not (tmp_path / "data").exists()  # checking starts nothing


def test_missing_file_and_nodekeeper_config(tmp_path: Path) -> None:
    missing = check(str(tmp_path / "nope.toml"))
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1
    from_env = check(env={"NODEKEEPER_CONFIG": str(write(tmp_path))})
    assert from_env.returncode == 0, from_env.stderr
