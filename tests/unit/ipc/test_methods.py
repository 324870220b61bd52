"""The table of control methods (pure data and checks)."""

from __future__ import annotations

from typing import Any

import pytest

from nodekeeper.core.ipc.methods import (
    MAX_LOG_LINES,
    METHODS,
    Param,
    ParamError,
    for_menu_item,
)


def test_the_contract_methods_and_who_may_call_them() -> None:
    assert {name: m.changes_state for name, m in METHODS.items()} == {
        "status": False,
        "logs_tail": False,
        "subscribe": False,
        "set_updates": True,
        "check_now": True,
        "roll_back_core": True,
        "restart_node": True,
        "stop_node": True,
        "start_node": True,
        "reload": True,
    }
    assert all(name == method.name for name, method in METHODS.items())


def test_every_method_has_a_one_line_summary_and_each_use_is_unique() -> None:
    assert all(m.summary and "\n" not in m.summary for m in METHODS.values())
    commands = [m.cli.command for m in METHODS.values() if m.cli is not None]
    items = [m.menu.item for m in METHODS.values() if m.menu is not None]
    assert len(commands) == len(set(commands)) and len(items) == len(set(items))
    # The tray only offers what a read-only client could not do anyway.
    assert all(m.changes_state for m in METHODS.values() if m.menu is not None)


@pytest.mark.parametrize(
    ("method", "params", "checked"),
    [
        ("status", {}, {}),
        ("logs_tail", {}, {"lines": 100}),
        ("logs_tail", {"lines": 0}, {"lines": 0}),
        ("logs_tail", {"lines": MAX_LOG_LINES}, {"lines": MAX_LOG_LINES}),
        ("set_updates", {"enabled": False}, {"enabled": False}),
    ],
)
def test_good_params_are_checked_and_defaults_filled_in(
    method: str, params: dict[str, Any], checked: dict[str, Any]
) -> None:
    assert METHODS[method].check_params(params) == checked


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("set_updates", {}, "'enabled' must be true or false (got None)"),
        ("set_updates", {"enabled": 1}, "'enabled' must be true or false (got 1)"),
        ("logs_tail", {"lines": -1}, "'lines' must be an integer from 0 to 10000 (got -1)"),
        ("logs_tail", {"lines": True}, "'lines' must be an integer from 0 to 10000 (got True)"),
        ("logs_tail", {"lines": 2.5}, "'lines' must be an integer from 0 to 10000 (got 2.5)"),
        ("check_now", {"force": True}, "unknown parameter 'force'"),
    ],
)
def test_bad_params_name_the_parameter(method: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ParamError) as caught:
        METHODS[method].check_params(params)
    assert str(caught.value) == message


def test_one_sided_bounds_say_which_side() -> None:
    assert Param("n", int, "", minimum=1).check(1) == 1
    with pytest.raises(ParamError, match="of at least 1"):
        Param("n", int, "", minimum=1).check(0)
    with pytest.raises(ParamError, match="of at most 5"):
        Param("n", int, "", maximum=5).check(6)


def test_menu_items_lead_to_their_methods() -> None:
    assert [for_menu_item(item) for item in ("updates", "check", "restart")] == [
        METHODS["set_updates"],
        METHODS["check_now"],
        METHODS["restart_node"],
    ]
    assert for_menu_item("dashboard") is None
