"""The node's program and folder are checked before the core starts: one line naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from nodekeeper.core.config import load_config
from nodekeeper.core.config.program import check_node_program, folder_problem, program_problem
from nodekeeper.core.errors import ConfigError
from tests.unit.config.support import LINUX_ROOT, minimal, write


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "node").write_text("#!/bin/sh\n")
    (folder / "node").chmod(0o755)
    (folder / "notes").write_text("not a program\n")
    (folder / "notes").chmod(0o644)
    (folder / "sub").mkdir()
    return folder


def test_programs_found_on_the_path_or_by_path_are_accepted(tools: Path) -> None:
    assert program_problem("node", cwd=Path("/"), search_path=str(tools)) is None
    assert program_problem(str(tools / "node"), cwd=Path("/"), search_path="") is None
    assert program_problem("./node", cwd=tools, search_path="") is None


@pytest.mark.parametrize(
    ("program", "problem"),
    [
        ("nosuch", "not found on PATH"),
        ("notes", "not found on PATH"),  # not executable: which() skips it
        ("./nosuch", "does not exist"),
        ("./notes", "not executable"),
        ("./sub", "is a folder"),
    ],
)
def test_programs_that_cannot_run_are_named(tools: Path, program: str, problem: str) -> None:
    found = program_problem(program, cwd=tools, search_path=str(tools))
    assert found is not None and problem in found and program.lstrip("./") in found


def test_the_config_names_the_key_and_leaves_binary_to_the_installed_version(
    tmp_path: Path, tools: Path
) -> None:
    data = copy.deepcopy(minimal())
    data["node"]["command"] = ["{binary}", "run"]
    check_node_program(load_config(write(tmp_path, data), LINUX_ROOT))
    data["node"]["command"] = [str(tools / "missing")]
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        check_node_program(load_config(path, LINUX_ROOT))
    assert str(caught.value).startswith(f"{path}: node.command: program ")
    data["node"]["command"] = [str(tools / "node")]
    data["node"]["workdir"] = str(tmp_path / "gone")
    with pytest.raises(ConfigError, match=r"node\.workdir: .* is not a folder"):
        check_node_program(load_config(write(tmp_path, data), LINUX_ROOT))


def test_folders_that_are_files_or_lie_under_one_are_named(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("x")
    assert folder_problem(tmp_path) is None
    assert folder_problem(tmp_path / "new" / "deeper") is None
    assert "is a file" in (folder_problem(afile) or "")
    assert f"{afile} is a file" in (folder_problem(afile / "sub" / "dir") or "")
