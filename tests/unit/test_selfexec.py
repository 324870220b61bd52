"""Starting nodekeeper's own parts in a child process, from a venv and from a bundle."""

from __future__ import annotations

import sys

import pytest

from nodekeeper.core import selfexec
from nodekeeper.core.demo import package


def test_from_python_a_part_runs_as_python_dash_m() -> None:
    assert selfexec.module_command("nodekeeper.core", frozen=False) == (
        sys.executable,
        "-m",
        "nodekeeper.core",
    )
    assert selfexec.module_command(selfexec.DEMO_NODE_MODULE, frozen=False)[1:] == (
        "-m",
        "nodekeeper.core.demo.node",
    )


def test_in_a_bundle_the_bundle_executable_runs_the_cli_or_the_module_it_is_given() -> None:
    assert selfexec.module_command("nodekeeper.core", frozen=True) == (sys.executable,)
    assert selfexec.module_command(selfexec.DEMO_NODE_MODULE, frozen=True) == (
        sys.executable,
        selfexec.RUN_MODULE_FLAG,
        "nodekeeper.core.demo.node",
    )


def test_only_known_parts_can_be_started() -> None:
    with pytest.raises(ValueError):
        selfexec.module_command("os", frozen=True)


def test_in_a_bundle_the_demo_node_is_a_shell_wrapper_around_the_bundle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    script = package.executable_bytes("1.4.2").decode()
    assert script.startswith("#!/bin/sh\nexec ")
    assert f"{selfexec.RUN_MODULE_FLAG} nodekeeper.core.demo.node --version-string 1.4.2" in script
    assert script.rstrip().endswith('"$@"')
