"""How the service definitions start this installation of nodekeeper."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from nodekeeper.core.startup import locate


def test_installed_nodekeeper_script_is_used_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "bin" / "nodekeeper"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    assert locate.core_command("bin/nodekeeper", "/usr/bin/python3") == (str(script),)


def test_windows_launcher_without_extension_in_argv_finds_the_exe(tmp_path: Path) -> None:
    (tmp_path / "nodekeeper.exe").write_bytes(b"MZ")
    assert locate.core_command(str(tmp_path / "nodekeeper"), "python") == (
        str(tmp_path / "nodekeeper.exe"),
    )


def test_module_run_uses_the_same_interpreter_unresolved(tmp_path: Path) -> None:
    venv_python = tmp_path / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    os.symlink("/usr/bin/python3", venv_python)
    assert locate.core_command("/src/core/__main__.py", str(venv_python)) == (
        str(venv_python),
        "-m",
        "nodekeeper.core",
    )


def test_a_missing_script_of_that_name_falls_back_to_the_module(tmp_path: Path) -> None:
    assert locate.core_command(str(tmp_path / "nodekeeper"), "/usr/bin/python3")[1:] == (
        "-m",
        "nodekeeper.core",
    )


def test_tray_next_to_the_nodekeeper_script_is_preferred(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    (tmp_path / "nodekeeper").write_text("")
    (tmp_path / "nodekeeper-tray").write_text("")
    assert locate.tray_command((str(tmp_path / "nodekeeper"),)) == (
        str(tmp_path / "nodekeeper-tray"),
    )
    assert locate.tray_command(
        ("/usr/bin/python3", "-m", "nodekeeper.core"), "/usr/bin/python3"
    ) == (
        "/usr/bin/python3",
        "-m",
        "nodekeeper.tray.app",
    )


def test_inside_a_bundle_the_service_runs_the_bundle_executable_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    bundle = tmp_path / "nodekeeper-0.2.0-linux-amd64" / "nodekeeper-bundle"
    assert locate.core_command(argv0="nk", executable=str(bundle)) == (str(bundle),)
