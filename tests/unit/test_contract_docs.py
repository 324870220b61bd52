"""docs/contract.md says what the code does: keys, defaults, commands, states, methods, events.

The contract page is what operators and scripts rely on; these checks
fail when the code grows a key, command, option, state, method or event
the page does not list, when the page lists one the code does not know,
or when a documented default is not the loader's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.cli import build_parser
from nodekeeper.core.config import Config, load_config
from nodekeeper.core.events import EVENT_KINDS
from nodekeeper.core.ipc import protocol
from nodekeeper.core.release.channels import ARCH_NAMES, OS_NAMES
from nodekeeper.core.state import State
from tests.helpers import REPO

CONTRACT = REPO / "docs" / "contract.md"
TEXT = CONTRACT.read_text(encoding="utf-8")
SECTIONS = ("node", "limits", "updates", "self_update", "logs", "notify", "metrics", "paths")


def section(heading: str) -> str:
    """The text under ``heading`` (any level) up to the next heading of that level or higher."""
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", TEXT, re.MULTILINE)
    assert match, f"docs/contract.md has no heading {heading!r}"
    level = len(match.group(1))
    rest = TEXT[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def table_rows(text: str) -> Iterator[list[str]]:
    """Cells of every table row in ``text``, header and rule lines skipped."""
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and cells[0] not in ("key", "value", "code", "method", "event"):
            yield cells


def first_column(text: str) -> set[str]:
    """The backticked names in the first column of the tables in ``text``."""
    names = set()
    for cells in table_rows(text):
        match = re.fullmatch(r"`([^`]+)`", cells[0])
        assert match, f"first cell is not one `name`: {cells[0]!r}"
        names.add(match.group(1))
    return names


# -- configuration ---------------------------------------------------------------


def loader_keys() -> set[str]:
    """Every key of the file: the fields of Config's section dataclasses."""
    hints = typing.get_type_hints(Config)
    keys = {"instance"}
    for name in SECTIONS:
        keys |= {f"{name}.{f.name}" for f in dataclasses.fields(hints[name])}
    return keys


def documented_keys() -> dict[str, str]:
    """Dotted key → its documented default cell."""
    rows = {}
    for cells in table_rows(section("Configuration")):
        rows[cells[0].strip("`")] = cells[2]
    return rows


def test_every_config_key_the_loader_knows_is_documented_and_no_other() -> None:
    assert set(documented_keys()) == loader_keys()


def write_config(folder: Path, extra: dict[str, dict[str, str]], top: str = "") -> Path:
    tables = {
        "node": {"command": '["x"]'},
        # A short socket path: the OS limits its length, tmp_path can be long.
        "paths": {"data_dir": json.dumps(str(folder / "data")), "socket": '"/run/nk-doc.sock"'},
    }
    for table, values in extra.items():
        tables.setdefault(table, {}).update(values)
    lines = [top]
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {value}" for key, value in values.items())
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def loaded_value(config: Config, key: str) -> Any:
    if "." not in key:
        return getattr(config, key)
    table, name = key.split(".")
    return getattr(getattr(config, table), name)


LITERAL_DEFAULT = re.compile(r"`([^`]+)`")


@pytest.mark.parametrize("key", sorted(documented_keys()))
def test_documented_default_is_the_loaders(key: str, tmp_path: Path) -> None:
    """A default written as one literal must load like the key left out; "none" must be None."""
    cell = documented_keys()[key]
    absent = loaded_value(load_config(write_config(tmp_path, {})), key)
    literal = LITERAL_DEFAULT.fullmatch(cell)
    if literal:
        text = literal.group(1)
        tomllib.loads(f"v = {text}")  # the doc shows valid TOML
        if "." in key:
            table, name = key.split(".")
            path = write_config(tmp_path, {table: {name: text}})
        else:
            path = write_config(tmp_path, {}, top=f"{key} = {text}")
        assert loaded_value(load_config(path), key) == absent, f"{key}: default {text}"
    elif cell.startswith("none"):
        assert absent is None, f"{key}: documented as none, loads as {absent!r}"
    else:
        # Described in words (required, per OS, depends on the source): the
        # loader must not have a plain default the page could show.
        assert cell.startswith(("**required**", "per OS", "<data_dir>", "storj:")), cell


# -- command line ----------------------------------------------------------------


def commands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, list[str]]]:
    options = [o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help")]
    yield prefix, options
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{prefix} {name}")


def command_lines() -> str:
    match = re.search(r"^## Command line\n+```\n(.*?)```", TEXT, re.MULTILINE | re.DOTALL)
    assert match
    return " ".join(match.group(1).split())


def core_commands() -> list[tuple[str, list[str]]]:
    return list(commands(build_parser(), "nodekeeper"))


@pytest.mark.parametrize(("command", "options"), core_commands(), ids=lambda c: str(c))
def test_every_command_and_option_is_in_the_synopsis(command: str, options: list[str]) -> None:
    words = command.split()
    synopsis = command_lines()
    if len(words) > 1:
        # "nodekeeper release rotate-key" → a line "nodekeeper release rotate-key",
        # or "nodekeeper service install|uninstall|status" for choices.
        pattern = r"\s+".join(re.escape(w) for w in words[:2])
        assert re.search(pattern, synopsis), command
        if len(words) > 2:
            assert re.search(rf"{pattern}\s+\S*\b{re.escape(words[2])}\b", synopsis), command
    for option in options:
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", TEXT), (command, option)


def test_tray_options_are_documented() -> None:
    pytest.importorskip("PySide6")
    from nodekeeper.tray.app import build_parser as tray_parser

    assert "nodekeeper-tray" in command_lines()
    for _, options in commands(tray_parser(), "nodekeeper-tray"):
        for option in options:
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", TEXT), option


def test_exit_codes_of_every_error_are_documented() -> None:
    from nodekeeper.core import errors

    codes = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.NodekeeperError)
    }
    assert {str(code) for code in codes | {0}} <= first_column(section("Exit codes"))


# -- status object ---------------------------------------------------------------


def test_the_status_example_is_a_status_object_the_tray_accepts() -> None:
    from nodekeeper.tray.model import parse_status

    match = re.search(r"```json\n(.*?)```", section("Status object"), re.DOTALL)
    assert match
    status = json.loads(match.group(1))
    parsed = parse_status(status)
    assert parsed.node_state == status["node"]["state"]


def state_tables() -> tuple[set[str], set[str]]:
    text = section("Status object")
    node, updates = text.split("`updates.state` is one of")
    return first_column(node), first_column(updates)


def test_node_and_update_states_are_the_documented_ones() -> None:
    # The tray refuses a status object with any other state: these sets are
    # what clients accept.
    from nodekeeper.tray.model import NODE_STATES, UPDATE_STATES

    node, updates = state_tables()
    assert node == set(NODE_STATES)
    assert updates == set(UPDATE_STATES)


# -- control socket --------------------------------------------------------------


def test_every_method_is_documented_and_no_other() -> None:
    assert first_column(section("Methods")) == set(protocol.METHODS)


def test_every_error_code_is_documented_and_no_other() -> None:
    assert first_column(section("Error codes")) == set(protocol.ERROR_CODES)


def test_every_event_is_documented_and_no_other() -> None:
    assert first_column(section("Events")) == set(EVENT_KINDS)


def test_read_only_column_follows_which_methods_change_state() -> None:
    for cells in table_rows(section("Methods")):
        method = cells[0].strip("`")
        assert cells[3] == ("no" if protocol.METHODS[method].changes_state else "yes"), method


# -- release layout and install store ---------------------------------------------


def test_release_platform_names_are_documented() -> None:
    text = section("Release repository")
    for name in (*OS_NAMES, *ARCH_NAMES):
        assert f"`{name}`" in text, name


def test_every_state_json_key_is_documented_and_no_other() -> None:
    keys = {f.name for f in dataclasses.fields(State)} - {"extra"}
    assert first_column(section("Install store")) == keys
