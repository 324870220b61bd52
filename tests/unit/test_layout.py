"""The distribution owns one import name, `nodekeeper`: nothing imports a bare `core` or `tray`.

The folders core/ and tray/ are installed as nodekeeper.core and
nodekeeper.tray; a top-level `core` would collide with other distributions
that install one (pip would overwrite their files and delete them on
uninstall).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO

BARE = {"core", "tray"}
SCANNED = ("core", "tray", "tests", "scripts", "setup.py")


def python_files() -> Iterator[Path]:
    for name in SCANNED:
        path = REPO / name
        if path.is_file():
            yield path
        else:
            yield from sorted(path.rglob("*.py"))


def bare_references(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in BARE:
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in BARE:
                yield node.lineno, f"from {node.module} import ..."
        elif isinstance(node, (ast.List, ast.Tuple)):
            # ["python", "-m", "core", ...]: starting the old module name.
            values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            for first, second in itertools.pairwise(values):
                if first == "-m" and isinstance(second, str) and second.split(".")[0] in BARE:
                    yield node.lineno, f"-m {second}"


@pytest.mark.parametrize("path", list(python_files()), ids=lambda p: str(p.relative_to(REPO)))
def test_nothing_imports_or_runs_a_bare_core_or_tray(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    assert list(bare_references(tree)) == []


def test_the_scan_finds_the_forms_it_forbids() -> None:
    source = "import core\nfrom tray.app import main\nargv = ['py', '-m', 'core.cli']\n"
    assert [line for line, _ in bare_references(ast.parse(source))] == [1, 2, 3]
    allowed = (
        "from nodekeeper.core import cli\nfrom . import core\nargv = ('-m', 'nodekeeper.core')\n"
    )
    assert list(bare_references(ast.parse(allowed))) == []
