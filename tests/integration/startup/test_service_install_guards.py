"""`service install` refuses files others can change, and leaves the tray out when asked."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers import run_cli, to_toml

TRAY = "etc/xdg/autostart/nodekeeper-tray.desktop"


def write_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "guard.toml"
    data = {
        "instance": "guard",
        "node": {"command": ["/bin/true"]},
        "updates": {"enabled": False},
        "paths": {"data_dir": str(folder / "data"), "socket": str(folder / "guard.sock")},
    }
    config.write_text(to_toml(data))
    return config


def service(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli("service", *args, env=env)


def test_a_config_anyone_can_write_is_refused_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg")
    config.chmod(0o666)
    done = service("install", "--config", config, "--root", tmp_path / "root")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"the config {config} could be changed by others" in done.stderr
    assert "writable by every user" in done.stderr
    assert not (tmp_path / "root").exists()


def test_a_config_in_a_folder_anyone_can_write_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path / "open")
    (tmp_path / "open").chmod(0o777)
    done = service("install", "--config", config, "--root", tmp_path / "root")
    assert done.returncode == 2
    assert f"{tmp_path / 'open'} is writable by every user" in done.stderr


def test_a_safe_config_installs_and_no_tray_leaves_the_tray_out(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg")
    root = tmp_path / "root"
    done = service("install", "--config", config, "--root", root, "--no-tray")
    assert done.returncode == 0, done.stderr
    assert "--no-tray: the tray's login start is left out" in done.stdout
    assert (root / "etc/systemd/system/nodekeeper-guard.service").is_file()
    assert not (root / TRAY).exists()


def test_without_a_desktop_the_tray_is_left_out_of_this_machine(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    has_sessions = any(
        Path(d).is_dir() and any(Path(d).glob("*.desktop"))
        for d in ("/usr/share/xsessions", "/usr/share/wayland-sessions")
    )
    done = service("install", "--config", config, "--dry-run", env=env)
    assert done.returncode == 0, done.stderr
    if has_sessions:
        assert TRAY in done.stdout
    else:
        assert TRAY not in done.stdout
