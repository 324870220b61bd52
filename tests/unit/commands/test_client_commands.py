"""The client commands come from the table of control methods (parsing only: no core)."""

from __future__ import annotations

import pytest

from nodekeeper.core.cli import build_parser
from nodekeeper.core.ipc.methods import METHODS


@pytest.mark.parametrize(
    ("argv", "method", "json_option"),
    [
        (["status", "--json"], "status", True),
        (["updates", "off", "--socket", "/s"], "set_updates", False),
        (["check", "--json"], "check_now", True),
        (["restart"], "restart_node", False),
    ],
)
def test_each_command_calls_its_method(argv: list[str], method: str, json_option: bool) -> None:
    args = build_parser().parse_args(argv)
    assert args.func.args == (METHODS[method],)
    assert getattr(args, "json", False) is json_option


def test_a_boolean_parameter_is_on_or_off() -> None:
    assert build_parser().parse_args(["updates", "on"]).enabled == "on"
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["updates", "maybe"])
    assert caught.value.code == 2


def test_every_cli_use_in_the_table_is_a_command_with_its_help() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    for method in METHODS.values():
        if method.cli is not None:
            assert helps[method.cli.command] == method.cli.help


def test_each_command_is_built_by_the_module_the_cli_loads_for_it() -> None:
    from nodekeeper.core.cli import COMMAND_MODULES, COMMANDS

    every = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(every.choices) == sorted(COMMANDS)  # type: ignore[arg-type]
    assert set(COMMANDS.values()) == set(COMMAND_MODULES)
    for command in COMMANDS:
        alone = next(a for a in build_parser([command])._actions if a.dest == "command")
        assert command in alone.choices  # type: ignore[operator]
        assert len(alone.choices) < len(every.choices)  # type: ignore[arg-type]
