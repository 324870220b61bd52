"""What a user can meet at the command line is one line, never a traceback.

A reader that stops early (`| head -1`), a log folder the user may not
read (a real second user), a tray without PySide6 or without a
graphical session.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

from tests.fixtures.local_users import as_user, needs_root
from tests.helpers import REPO, to_toml


def write_logs(folder: Path) -> Path:
    """A config whose node log holds far more than a pipe buffer."""
    logs = folder / "logs"
    logs.mkdir()
    with open(logs / "pipe.log", "w") as log:
        for number in range(100_000):
            log.write(f"line {number} {'x' * 70}\n")
    config = folder / "nodekeeper.toml"
    config.write_text(
        to_toml(
            {
                "instance": "pipe",
                "node": {"command": ["/bin/true"]},
                "logs": {"dir": str(logs)},
                "paths": {"data_dir": str(folder / "data"), "socket": str(folder / "core.sock")},
            }
        )
    )
    return config


def test_a_reader_that_stops_early_gets_a_quiet_exit(tmp_path: Path) -> None:
    config = write_logs(tmp_path)
    result = subprocess.run(
        f"'{sys.executable}' -m nodekeeper.core logs --config '{config}' -n 50000 | head -1;"
        " exit ${PIPESTATUS[0]}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.stdout.startswith("line 50000 ")
    assert result.stderr == ""
    assert result.returncode == 0


@needs_root[0]
@needs_root[1]
def test_logs_the_user_may_not_read_are_named_in_one_line(
    other_user: pwd.struct_passwd, shared_dir: Path
) -> None:
    config = write_logs(shared_dir)
    config.chmod(0o644)
    (shared_dir / "logs").chmod(0o700)
    result = subprocess.run(
        as_user(
            other_user, [sys.executable, "-m", "nodekeeper.core", "logs", "--config", str(config)]
        ),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/"},
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "permission denied" in line and str(shared_dir / "logs") in line


def tray(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nodekeeper.tray.app", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env=env,
    )


def test_tray_without_pyside6_names_the_extra_to_install(tmp_path: Path) -> None:
    blocked = tmp_path / "PySide6"
    blocked.mkdir()
    (blocked / "__init__.py").write_text("raise ImportError('PySide6 is not installed here')\n")
    result = tray({"PATH": os.environ["PATH"], "PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "install nodekeeper[tray]" in line


def test_tray_without_a_graphical_session_says_so_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    result = tray(env, "--socket", str(tmp_path / "core.sock"), "--no-scan")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "no graphical session" in line
