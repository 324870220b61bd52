"""The ctypes bindings for Windows load on Windows only.

The Job Object and named-pipe bindings (``_win32_ctypes.py``,
``_win32_pipe.py``) are imported only inside ``if sys.platform == "win32":``
blocks, and their own bodies sit behind the same check, so Linux and macOS
never load ctypes' Windows DLLs and ``mypy --platform`` sees which code runs where.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodekeeper.core.platform.windows import WindowsPlatform
from nodekeeper.core.platform.winpipe import ctypes_pipe_api
from tests.helpers import REPO

BINDINGS = ("nodekeeper.core.platform._win32_ctypes", "nodekeeper.core.platform._win32_pipe")


def is_windows_check(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and ast.unparse(test.left) == "sys.platform"
        and isinstance(test.ops[0], ast.Eq)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "win32"
    )


def unguarded_imports(tree: ast.AST, guarded: bool = False) -> Iterator[tuple[int, str]]:
    """Imports of the bindings that are not inside an ``if sys.platform == "win32":`` body."""
    if isinstance(tree, ast.If) and is_windows_check(tree.test):
        for child in tree.body:
            yield from unguarded_imports(child, True)
        for child in tree.orelse:
            yield from unguarded_imports(child, guarded)
        return
    if not guarded and isinstance(tree, ast.ImportFrom) and tree.module:
        names = [tree.module] + [f"{tree.module}.{alias.name}" for alias in tree.names]
        yield from ((tree.lineno, name) for name in names if name in BINDINGS)
    if not guarded and isinstance(tree, ast.Import):
        yield from ((tree.lineno, a.name) for a in tree.names if a.name in BINDINGS)
    for child in ast.iter_child_nodes(tree):
        yield from unguarded_imports(child, guarded)


def sources() -> list[Path]:
    return sorted((REPO / "core").rglob("*.py")) + sorted((REPO / "tray").rglob("*.py"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_bindings_are_imported_only_behind_a_windows_check(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    assert list(unguarded_imports(tree)) == []


@pytest.mark.parametrize("name", ["_win32_ctypes.py", "_win32_pipe.py"])
def test_binding_modules_define_nothing_off_windows(name: str) -> None:
    tree = ast.parse((REPO / "core" / "platform" / name).read_text(encoding="utf-8"))
    body = [
        node
        for node in tree.body
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        and not isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert len(body) == 1
    assert isinstance(body[0], ast.If) and is_windows_check(body[0].test)


def test_the_scan_finds_an_unguarded_import() -> None:
    source = (
        "import sys\n"
        "from nodekeeper.core.platform._win32_pipe import CtypesPipeApi\n"
        "from nodekeeper.core.platform import _win32_ctypes\n"
        'if sys.platform == "win32":\n'
        "    from nodekeeper.core.platform._win32_pipe import CtypesPipeApi\n"
        "else:\n"
        "    import nodekeeper.core.platform._win32_ctypes\n"
        "def f():\n"
        "    from nodekeeper.core.platform._win32_pipe import CtypesPipeApi\n"
    )
    assert [line for line, _ in unguarded_imports(ast.parse(source))] == [2, 3, 7, 9]


@pytest.mark.skipif(sys.platform == "win32", reason="the real bindings load on Windows")
def test_asking_for_the_real_bindings_off_windows_is_a_one_line_error() -> None:
    with pytest.raises(OSError, match="need Windows"):
        ctypes_pipe_api()
    with pytest.raises(OSError, match="needs Windows"):
        WindowsPlatform()
    assert not any(name in sys.modules for name in BINDINGS)
