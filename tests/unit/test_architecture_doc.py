"""docs/architecture.md names every module of core/ and tray/, one line each."""

from __future__ import annotations

import re

from tests.helpers import REPO

PARTS = ("core", "tray")


def test_every_module_has_its_line_in_the_module_map() -> None:
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `((?:core|tray)/[^`]*)` \|", doc, flags=re.M))
    wanted = set()
    for part in PARTS:
        for path in (REPO / part).rglob("*.py"):
            if "__pycache__" in path.parts or path.name == "__main__.py":
                continue
            name = path.relative_to(REPO).as_posix()
            wanted.add(name.removesuffix("__init__.py"))
    assert sorted(wanted - listed) == [], "run scripts/module-map --write"
    assert sorted(listed - wanted) == [], "the map names modules that are gone"
