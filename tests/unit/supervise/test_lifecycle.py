"""The lifecycle table: the contract's states, and moves that always lead somewhere sensible."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.supervise import lifecycle
from nodekeeper.core.supervise.lifecycle import (
    HELD_STATES,
    STATES,
    TRANSITIONS,
    IllegalTransition,
    NodeState,
    Requests,
    Severity,
    Trigger,
    next_state,
)

# docs/contract.md, Status object: node.state
CONTRACT_STATES = {
    "starting",
    "running",
    "stopping",
    "stopped",
    "backoff",
    "crash-looping",
    "updating",
}
WITH_PROCESS = {NodeState.STARTING, NodeState.RUNNING, NodeState.STOPPING}


def test_the_states_are_exactly_the_contracts() -> None:
    assert {str(state) for state in NodeState} == CONTRACT_STATES
    assert set(STATES) == set(NodeState) == set(TRANSITIONS)


def test_every_state_has_wording_and_the_operator_is_told_about_the_bad_ones() -> None:
    assert all(info.wording.startswith("the node ") for info in STATES.values())
    attention = {s for s, info in STATES.items() if info.severity is Severity.ATTENTION}
    assert attention == {NodeState.STOPPED, NodeState.CRASH_LOOPING}
    assert STATES[NodeState.UPDATING].severity is Severity.BUSY


def test_an_unlisted_move_is_an_error_naming_state_and_trigger() -> None:
    with pytest.raises(
        IllegalTransition, match=r"^healthy is not allowed while the node is stopped$"
    ):
        next_state(NodeState.STOPPED, Trigger.HEALTHY)


@pytest.mark.parametrize("state", list(NodeState))
def test_shutdown_reaches_stopped_from_every_state(state: NodeState) -> None:
    after = next_state(state, Trigger.SHUTDOWN)
    if after is NodeState.STOPPING:
        after = next_state(after, Trigger.SHUTDOWN)
    assert after is NodeState.STOPPED


@pytest.mark.parametrize("state", list(NodeState))
def test_a_node_process_is_stopped_before_it_is_left_behind(state: NodeState) -> None:
    """Only ``stopping`` (the process is gone by then) or an exit leaves the process states."""
    for trigger, after in TRANSITIONS[state].items():
        if state in WITH_PROCESS and after not in WITH_PROCESS:
            assert state is NodeState.STOPPING or trigger in (
                Trigger.CRASHED,
                Trigger.CRASH_LOOP,
            )


def test_the_only_way_to_running_is_a_good_health_check() -> None:
    into_running = [
        (state, trigger)
        for state, moves in TRANSITIONS.items()
        for trigger, after in moves.items()
        if after is NodeState.RUNNING
    ]
    assert into_running == [(NodeState.STARTING, Trigger.HEALTHY)]


def test_held_states_stay_held_until_start() -> None:
    for state in HELD_STATES:
        assert next_state(state, Trigger.HOLD) is NodeState.STOPPED
        assert next_state(state, Trigger.UPDATE) is NodeState.UPDATING
        assert next_state(state, Trigger.START) is NodeState.STARTING
        with pytest.raises(IllegalTransition):
            next_state(state, Trigger.BACKOFF_OVER)


@given(st.lists(st.sampled_from(list(Trigger)), max_size=60))
def test_any_trigger_sequence_stays_in_the_contracts_states(triggers: list[Trigger]) -> None:
    state = NodeState.STOPPED
    for trigger in triggers:
        try:
            state = next_state(state, trigger)
        except IllegalTransition:
            continue
        assert str(state) in CONTRACT_STATES


def test_the_module_imports_nothing_but_the_standard_library() -> None:
    """The tray imports it: no asyncio, no psutil, nothing of the core."""
    tree = ast.parse(Path(lifecycle.__file__).read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= sys.stdlib_module_names | {"__future__"}
    assert "asyncio" not in imported


def test_requests_say_what_is_wanted_shutdown_first() -> None:
    requests = Requests()
    assert (requests.wanted(), requests.pending()) == (Trigger.START, None)
    requests.restart = True
    assert (requests.wanted(), requests.pending()) == (Trigger.START, Trigger.RESTART)
    requests.hold_reason = "update"
    assert requests.pending() is Trigger.UPDATE
    requests.hold_reason = "operator"
    assert requests.pending() is Trigger.HOLD
    requests.shutdown = True
    assert requests.wanted() is Trigger.SHUTDOWN


@pytest.mark.parametrize("state", [NodeState.STARTING, NodeState.RUNNING, NodeState.BACKOFF])
@pytest.mark.parametrize("hold_reason", ["update", "operator", None])
@pytest.mark.parametrize("shutdown", [False, True])
def test_every_pending_request_is_a_move_the_table_allows(
    state: NodeState, hold_reason: str | None, shutdown: bool
) -> None:
    requests = Requests(hold_reason=hold_reason, restart=True, shutdown=shutdown)
    trigger = requests.pending()
    assert trigger is not None
    after = next_state(state, trigger)
    if after is NodeState.STOPPING:
        after = next_state(after, requests.wanted())
    assert after in {NodeState.STARTING, *HELD_STATES}


def test_an_operator_stop_wins_over_every_request_but_shutdown() -> None:
    requests = Requests(hold_reason="update", restart=True, held_by_operator=True)
    assert requests.wanted() is Trigger.HOLD
    assert requests.pending() is Trigger.HOLD
    requests.hold_reason = None
    assert requests.wanted() is Trigger.HOLD
    requests.shutdown = True
    assert requests.wanted() is Trigger.SHUTDOWN
    assert Requests(hold_reason="update").wanted() is Trigger.UPDATE
