"""`nodekeeper service ...` as an operator runs it: real processes, real files under --root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli, to_toml
from tests.unit.startup.readers import (
    desktop_entries,
    desktop_exec_argv,
    systemd_environment,
    systemd_exec_argv,
    unit_settings,
)

UNIT = "etc/systemd/system/nodekeeper-{}.service"
TRAY = "etc/xdg/autostart/nodekeeper-tray.desktop"


def write_config(folder: Path, instance: str = "svc1", **limits: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / f"{instance}.toml"
    data: dict[str, object] = {
        "instance": instance,
        "node": {"command": ["/bin/true"], "stop_timeout": "20s"},
        "updates": {"enabled": False},
        "paths": {"data_dir": str(folder / "data"), "socket": str(folder / f"{instance}.sock")},
    }
    if limits:
        data["limits"] = limits
    config.write_text(to_toml(data))
    return config


def service(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("service", *args)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (with content) and folder under root."""
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        found[str(path.relative_to(root))] = path.read_bytes() if path.is_file() else None
    return found


@pytest.fixture
def awkward_dir(tmp_path: Path) -> Path:
    # Spaces, a specifier and a variable sign: all must survive quoting.
    return tmp_path / "my configs" / "100% $node"


def test_install_under_root_writes_the_unit_and_the_tray_entry(
    tmp_path: Path, awkward_dir: Path
) -> None:
    config = write_config(awkward_dir, memory_max="1GiB", cpu_max=0.5, nice=5)
    root = tmp_path / "root"
    result = service("install", "--config", config, "--root", root)
    assert result.returncode == 0, result.stderr
    unit = root / UNIT.format("svc1")
    assert f"wrote {unit}" in result.stdout
    settings = unit_settings(unit.read_text())
    assert systemd_exec_argv(settings["Service.ExecStart"][0]) == [
        sys.executable,
        "-m",
        "nodekeeper.core",
        "run",
        "--config",
        str(config),
    ]
    # The interpreter finds the installed package by itself: no PYTHONPATH.
    environment = systemd_environment(" ".join(settings["Service.Environment"]))
    assert "PYTHONPATH" not in environment
    assert settings["Service.Restart"] == ["always"]
    assert settings["Service.KillMode"] == ["mixed"]
    assert int(settings["Service.TimeoutStopSec"][0]) > 20
    assert settings["Service.MemoryMax"] == [str(1024**3)]
    assert settings["Service.CPUQuota"] == ["50%"]
    assert settings["Service.Nice"] == ["5"]
    assert unit.stat().st_mode & 0o777 == 0o644
    tray = root / TRAY
    assert desktop_exec_argv(desktop_entries(tray.read_text())["Exec"]) == [
        sys.executable,
        "-m",
        "nodekeeper.tray.app",
    ]
    assert {p.name for p in root.rglob("*") if p.is_file()} == {unit.name, tray.name}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_generated_unit_passes_systemd_analyze_verify(tmp_path: Path, awkward_dir: Path) -> None:
    config = write_config(awkward_dir, memory_max="512MiB", cpu_max=2, nice=-5)
    root = tmp_path / "root"
    assert service("install", "--config", config, "--root", root).returncode == 0
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(root / UNIT.format("svc1"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr
    # Unknown keys and unparsable values are only warnings: there must be none.
    assert verify.stderr.strip() == "" and verify.stdout.strip() == ""


def test_dry_run_prints_files_and_commands_and_writes_nothing(tmp_path: Path) -> None:
    instance = f"dryrun{os.getpid()}"
    config = write_config(tmp_path / "cfg", instance=instance)
    root = tmp_path / "root"
    result = service("install", "--config", config, "--root", root, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"would write {root / UNIT.format(instance)} (mode 0644):" in result.stdout
    assert "    Restart=always" in result.stdout
    assert not root.exists()

    real = service("install", "--config", config, "--dry-run")
    assert real.returncode == 0, real.stderr
    assert f"would write /{UNIT.format(instance)} (mode 0644):" in real.stdout
    assert f"systemctl enable --now nodekeeper-{instance}.service" in real.stdout
    assert not Path("/", UNIT.format(instance)).exists()
    assert snapshot(tmp_path / "cfg") == {f"{instance}.toml": config.read_bytes()}


def test_uninstall_removes_exactly_what_install_wrote(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg")
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/sshd.service").write_text("[Service]\nExecStart=/usr/sbin/sshd\n")
    (root / "etc/xdg/autostart").mkdir(parents=True)
    (root / "etc/xdg/autostart/other.desktop").write_text("[Desktop Entry]\n")
    before = snapshot(root)
    assert service("install", "--config", config, "--root", root).returncode == 0
    assert len(snapshot(root)) == len(before) + 2
    result = service("uninstall", "--config", config, "--root", root)
    assert result.returncode == 0, result.stderr
    assert snapshot(root) == before


def test_uninstall_of_an_empty_staging_root_leaves_it_empty(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg")
    root = tmp_path / "root"
    root.mkdir()
    assert service("install", "--config", config, "--root", root).returncode == 0
    assert service("uninstall", "--config", config, "--root", root).returncode == 0
    assert snapshot(root) == {}
    again = service("uninstall", "--config", config, "--root", root)
    assert again.returncode == 0
    assert "not installed" in again.stdout


def test_second_install_changes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg")
    root = tmp_path / "root"
    assert service("install", "--config", config, "--root", root).returncode == 0
    unit = root / UNIT.format("svc1")
    first = (unit.stat().st_ino, unit.stat().st_mtime_ns, unit.read_bytes())
    tray_first = snapshot(root)
    result = service("install", "--config", config, "--root", root)
    assert result.returncode == 0
    assert f"unchanged {unit}" in result.stdout
    assert (unit.stat().st_ino, unit.stat().st_mtime_ns, unit.read_bytes()) == first
    assert snapshot(root) == tray_first


def test_changed_limits_are_reported_by_status_and_rewritten_by_install(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", nice=1)
    root = tmp_path / "root"
    assert service("install", "--config", config, "--root", root).returncode == 0
    write_config(tmp_path / "cfg", nice=9)
    status = service("status", "--config", config, "--root", root)
    assert status.returncode == 0
    assert "differs from what `nodekeeper service install` writes now" in status.stdout
    result = service("install", "--config", config, "--root", root)
    assert f"wrote {root / UNIT.format('svc1')}" in result.stdout
    assert "Nice=9" in (root / UNIT.format("svc1")).read_text()


def test_a_unit_written_by_0_1_is_named_by_status_and_rewritten_by_install(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "cfg")
    root = tmp_path / "root"
    assert service("install", "--config", config, "--root", root).returncode == 0
    unit = root / UNIT.format("svc1")
    # 0.1 ran the top-level package `core`, which 0.2 no longer installs.
    unit.write_text(unit.read_text().replace("-m nodekeeper.core run", "-m core run"))
    status = service("status", "--config", config, "--root", root)
    assert "by nodekeeper 0.1, which ran `python -m core`" in status.stdout
    assert "run `nodekeeper service install` again" in status.stdout
    assert service("install", "--config", config, "--root", root).returncode == 0
    assert "-m nodekeeper.core run" in unit.read_text()
    assert f"installed ({unit})" in service("status", "--config", config, "--root", root).stdout


def test_status_says_whether_the_service_is_installed(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg")
    root = tmp_path / "root"
    missing = service("status", "--config", config, "--root", root)
    assert missing.returncode == 1
    assert "core service nodekeeper-svc1.service: not installed" in missing.stdout
    assert service("install", "--config", config, "--root", root).returncode == 0
    present = service("status", "--config", config, "--root", root)
    assert present.returncode == 0
    assert f"core service nodekeeper-svc1.service: installed ({root / UNIT.format('svc1')})" in (
        present.stdout
    )
    assert "tray login start: installed" in present.stdout


def test_tray_entry_stays_while_another_instance_is_installed(tmp_path: Path) -> None:
    first = write_config(tmp_path / "a", instance="first")
    second = write_config(tmp_path / "b", instance="second")
    root = tmp_path / "root"
    assert service("install", "--config", first, "--root", root).returncode == 0
    assert service("install", "--config", second, "--root", root).returncode == 0
    result = service("uninstall", "--config", first, "--root", root)
    assert result.returncode == 0
    assert "instance(s) second still use it" in result.stdout
    assert (root / TRAY).is_file()
    assert not (root / UNIT.format("first")).exists()
    assert service("uninstall", "--config", second, "--root", root).returncode == 0
    assert snapshot(root) == {}


def test_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('instance = "x"\n[node]\ncommand = ["/bin/true"]\n[limits]\nnice = 40\n')
    root = tmp_path / "root"
    result = service("install", "--config", config, "--root", root)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "limits.nice" in lines[0] and str(config) in lines[0]
    assert not root.exists()


def test_config_path_with_a_newline_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "two\nlines"
    config = write_config(folder)
    root = tmp_path / "root"
    result = service("install", "--config", config, "--root", root)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "control character" in result.stderr
    assert not root.exists()


def test_root_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg")
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = service("install", "--config", config, "--root", blocker)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"nodekeeper: --root: {blocker} exists and is not a folder"
    ]


def test_unknown_action_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg")
    result = service("reinstall", "--config", config)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1


def test_tray_entry_command_starts_the_tray_program_from_any_folder(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    config = write_config(tmp_path / "cfg")
    root = tmp_path / "root"
    assert service("install", "--config", config, "--root", root).returncode == 0
    argv = desktop_exec_argv(desktop_entries((root / TRAY).read_text())["Exec"])
    # --version: the tray program is found and imports, no display needed.
    result = subprocess.run(
        [*argv, "--version"],
        cwd="/",
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "nodekeeper" in result.stdout


def test_several_configs_install_one_service_for_one_core_process(tmp_path: Path) -> None:
    first = write_config(tmp_path / "disk1", "disk1", memory_max="1GiB", cpu_max=0.5)
    second = write_config(tmp_path / "disk2", "disk2", memory_max="2GiB", cpu_max=1.0)
    root = tmp_path / "root"
    result = service("install", "--config", first, "--config", second, "--root", root)
    assert result.returncode == 0, result.stderr
    assert not (root / UNIT.format("disk2")).exists()
    settings = unit_settings((root / UNIT.format("disk1")).read_text())
    argv = systemd_exec_argv(settings["Service.ExecStart"][0])
    assert argv[3:] == ["run", "--config", str(first), "--config", str(second)]
    writable = " ".join(settings["Service.ReadWritePaths"])
    assert str(tmp_path / "disk1") in writable and str(tmp_path / "disk2") in writable
    assert settings["Service.MemoryMax"] == [str(3 * 1024**3)]
    assert settings["Service.CPUQuota"] == ["150%"]
    assert "disk1, disk2" in settings["Unit.Description"][0]


def test_an_instance_with_a_service_of_its_own_is_refused_in_a_shared_one(tmp_path: Path) -> None:
    first = write_config(tmp_path / "disk1", "disk1")
    second = write_config(tmp_path / "disk2", "disk2")
    root = tmp_path / "root"
    assert service("install", "--config", second, "--root", root, "--no-tray").returncode == 0
    before = snapshot(root)
    result = service("install", "--config", first, "--config", second, "--root", root)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "disk2 has a service of its own" in result.stderr
    assert f"service uninstall --config {second}" in result.stderr
    assert snapshot(root) == before
