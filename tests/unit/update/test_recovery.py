"""What a starting core does with the state a crash left behind (core/update/recovery.py)."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.state import State
from nodekeeper.core.update.recovery import recover

STARTED = "2026-11-27T05:00:00.000Z"


def pending(old: str | None, new: str) -> dict[str, str | None]:
    return {"from": old, "to": new, "started": STARTED}


def applied(state: State, changes: dict[str, object]) -> State:
    return dataclasses.replace(state, **changes)


# -- no switch pending ----------------------------------------------------------


def test_nothing_to_do_when_no_switch_is_pending_and_current_is_installed() -> None:
    result = recover(State(current="1.0.0", previous="0.9.0"), ["0.9.0", "1.0.0"])
    assert result.action == "none"
    assert result.changes == {}


def test_nothing_to_do_on_a_fresh_data_dir() -> None:
    result = recover(State(), [])
    assert result.action == "none"
    assert result.changes == {}


def test_a_missing_current_version_falls_back_to_the_previous_one() -> None:
    state = State(current="1.1.0", previous="1.0.0")
    result = recover(state, ["0.9.0", "1.0.0"])
    assert result.action == "fell-back"
    assert result.changes == {"current": "1.0.0"}
    assert "1.1.0 is missing" in result.message and "1.0.0" in result.message


def test_a_missing_current_without_previous_falls_back_to_the_newest_installed() -> None:
    state = State(current="1.3.0", previous=None)
    result = recover(state, ["1.0.0", "1.10.0", "1.2.0"])
    assert result.action == "fell-back"
    # Newest by version order, not by string order ("1.2.0" > "1.10.0" as text).
    assert result.changes == {"current": "1.10.0"}


def test_a_missing_previous_is_skipped_for_the_newest_installed() -> None:
    state = State(current="1.3.0", previous="1.2.0")
    result = recover(state, ["1.0.0", "1.1.0"])
    assert result.changes == {"current": "1.1.0"}


def test_folders_that_are_not_versions_are_never_chosen() -> None:
    state = State(current="1.3.0")
    result = recover(state, ["notes", "1.0.0", "latest"])
    assert result.changes == {"current": "1.0.0"}


def test_a_missing_current_with_nothing_installed_leaves_no_version_to_run() -> None:
    result = recover(State(current="1.3.0", previous="1.2.0"), ["junk"])
    assert result.action == "fell-back"
    assert result.changes == {"current": None}
    assert "no other version is installed" in result.message


# -- a switch was pending when the core died --------------------------------------


def test_a_switch_that_moved_the_pointer_resumes_its_probation() -> None:
    state = State(current="1.1.0", previous="1.0.0", pending=pending("1.0.0", "1.1.0"))
    result = recover(state, ["1.0.0", "1.1.0"])
    assert result.action == "resume-probation"
    assert result.changes == {}  # the pending record stays: probation decides


def test_a_first_install_that_moved_the_pointer_resumes_its_probation() -> None:
    state = State(current="1.1.0", pending=pending(None, "1.1.0"))
    assert recover(state, ["1.1.0"]).action == "resume-probation"


def test_a_switch_interrupted_before_the_pointer_moved_is_reverted() -> None:
    state = State(current="1.0.0", pending=pending("1.0.0", "1.1.0"))
    result = recover(state, ["1.0.0", "1.1.0"])
    assert result.action == "reverted"
    assert result.changes == {"current": "1.0.0", "pending": None}
    assert "interrupted" in result.message and "1.0.0" in result.message


def test_a_moved_pointer_to_a_version_gone_from_disk_goes_back_to_the_old_one() -> None:
    state = State(current="1.1.0", previous="1.0.0", pending=pending("1.0.0", "1.1.0"))
    result = recover(state, ["1.0.0"])
    assert result.action == "reverted"
    assert result.changes == {"current": "1.0.0", "pending": None}


def test_an_interrupted_switch_whose_old_version_is_gone_keeps_an_installed_current() -> None:
    state = State(current="1.0.5", pending=pending("1.0.0", "1.1.0"))
    result = recover(state, ["1.0.5", "1.2.0"])
    assert result.action == "reverted"
    assert result.changes == {"current": "1.0.5", "pending": None}


def test_an_interrupted_switch_with_nothing_usable_named_runs_the_newest_installed() -> None:
    state = State(current="1.1.0", pending=pending(None, "1.1.0"))
    result = recover(state, ["0.9.0", "1.0.0"])
    assert result.action == "reverted"
    assert result.changes == {"current": "1.0.0", "pending": None}
    assert "running 1.0.0" in result.message


def test_an_interrupted_switch_with_nothing_installed_clears_the_switch() -> None:
    state = State(current="1.1.0", pending=pending("1.0.0", "1.1.0"))
    result = recover(state, [])
    assert result.changes == {"current": None, "pending": None}
    assert "no other version is installed" in result.message


# -- what holds for every state ---------------------------------------------------

versions = st.sampled_from(["0.9.0", "1.0.0", "1.1.0", "1.2.0", "1.10.0"])


@st.composite
def states(draw: st.DrawFn) -> tuple[State, list[str]]:
    installed = draw(st.lists(versions, unique=True, max_size=5))
    current = draw(st.none() | versions)
    previous = draw(st.none() | versions)
    switch = None
    if draw(st.booleans()):
        switch = pending(draw(st.none() | versions), draw(versions))
    return State(current=current, previous=previous, pending=switch), installed


@given(states())
def test_after_recovery_the_node_has_an_installed_version_or_none_at_all(
    case: tuple[State, list[str]],
) -> None:
    state, installed = case
    result = recover(state, installed)
    after = applied(state, result.changes)
    if installed and (state.current is not None or state.pending is not None):
        assert after.current in installed
    else:
        assert after.current is None
    # Only a probation still to run keeps the switch record.
    if result.action == "resume-probation":
        assert after.pending == state.pending and after.current == state.pending["to"]  # type: ignore[index]
    else:
        assert after.pending is None
    # Recovery never invents a version and is stable: a second start changes nothing.
    if result.action != "resume-probation":
        assert recover(after, installed).changes == {}
