"""The launcher step's decision: which core runs, and what a failed switch comes to."""

from __future__ import annotations

import dataclasses

from nodekeeper.core.selfupdate.launcher import HANDOVER_ATTEMPTS, START_ATTEMPTS, choose
from nodekeeper.core.selfupdate.state import SelfUpdateState, Trying

NOW = "2026-12-01T20:00:00.000Z"


def trying(version: str, phase: str, previous: str | None = None) -> Trying:
    return Trying(version, previous, "2026-12-01T19:59:00.000Z", phase)


def decide(
    state: SelfUpdateState,
    *,
    running: str = "0.2.0",
    installed=(),
    handed_over=False,
    launched=False,
):
    return choose(
        state,
        running=running,
        installed=frozenset(installed),
        handed_over=handed_over,
        launched=launched,
        now_iso=NOW,
    )


def test_nothing_installed_runs_the_packaged_core() -> None:
    choice = decide(SelfUpdateState())
    assert choice.exec_version is None
    assert choice.state == SelfUpdateState()
    assert choice.message is None


def test_the_packaged_core_execs_the_installed_current_one() -> None:
    state = SelfUpdateState(current="0.3.0")
    assert decide(state, installed={"0.3.0"}).exec_version == "0.3.0"
    # …once: a launched core goes on whatever it is, so a wrong stamp never loops.
    assert decide(state, installed={"0.3.0"}, launched=True).exec_version is None
    assert decide(state, running="0.3.0", installed={"0.3.0"}).exec_version is None


def test_a_current_core_that_is_not_installed_is_reported_not_run() -> None:
    choice = decide(SelfUpdateState(current="0.3.0"))
    assert choice.exec_version is None
    assert "0.3.0" in (choice.message or "") and "not installed" in (choice.message or "")


def test_the_handed_over_core_goes_on_probation() -> None:
    state = SelfUpdateState(current=None, trying=trying("0.3.0", "handing-over"))
    choice = decide(state, running="0.3.0", installed={"0.3.0"}, handed_over=True)
    assert choice.exec_version is None
    assert choice.state.trying is not None and choice.state.trying.phase == "on-probation"
    assert choice.state.quarantined == ()


def test_a_new_core_that_died_on_probation_is_quarantined_and_the_old_one_runs() -> None:
    state = SelfUpdateState(
        current="0.2.5", previous=None, trying=trying("0.3.0", "on-probation", "0.2.5")
    )
    # The service manager started the packaged core again (no hand-over).
    choice = decide(state, installed={"0.2.5", "0.3.0"})
    assert choice.state.trying is None
    assert choice.state.quarantined == ("0.3.0",)
    assert choice.state.current == "0.2.5"
    assert choice.exec_version == "0.2.5"
    assert choice.rolled_back == "0.3.0"
    assert choice.state.last_failure is not None
    assert choice.state.last_failure["reason"] == "the new core stopped before it was committed"
    assert "quarantined" in (choice.message or "")


def test_a_new_core_restarted_in_place_is_not_a_hand_over() -> None:
    # Same version running, but no hand-over: the new core itself died and was restarted.
    state = SelfUpdateState(trying=trying("0.3.0", "on-probation"))
    choice = decide(state, running="0.3.0", installed={"0.3.0"})
    assert choice.state.quarantined == ("0.3.0",)
    assert choice.exec_version is None  # current is the packaged core: go on


def test_an_interrupted_hand_over_is_retried_once_then_quarantined() -> None:
    state = SelfUpdateState(trying=trying("0.3.0", "handing-over"))
    first = decide(state, installed={"0.3.0"})
    assert first.state.quarantined == ()
    assert first.rolled_back is None
    assert first.state.last_failure is not None and first.state.last_failure["attempts"] == 1
    again = dataclasses.replace(first.state, trying=trying("0.3.0", "handing-over"))
    second = decide(again, installed={"0.3.0"})
    assert HANDOVER_ATTEMPTS == 2
    assert second.state.quarantined == ("0.3.0",)
    assert second.rolled_back == "0.3.0"


def test_a_failure_of_another_version_does_not_count_towards_this_one() -> None:
    state = SelfUpdateState(
        trying=trying("0.3.1", "handing-over"),
        last_failure={"version": "0.3.0", "reason": "x", "time": NOW, "attempts": 5},
    )
    assert decide(state).state.quarantined == ()


def test_a_new_core_that_could_not_even_start_after_the_exec_is_quarantined_at_once() -> None:
    state = SelfUpdateState(trying=trying("0.3.0", "handing-over"))
    choice = choose(
        state,
        running="0.2.0",
        installed=frozenset({"0.3.0"}),
        handed_over=False,
        launched=False,
        now_iso=NOW,
        exec_attempted=True,
    )
    assert choice.state.quarantined == ("0.3.0",)
    assert choice.rolled_back == "0.3.0"


def test_each_start_of_the_current_core_is_counted_until_it_comes_up() -> None:
    choice = decide(SelfUpdateState(current="0.3.0"), installed={"0.3.0"})
    assert choice.exec_version == "0.3.0"
    assert choice.state.start_attempts == 1


def test_a_current_core_that_never_comes_up_gives_way_to_the_packaged_one() -> None:
    state = SelfUpdateState(current="0.3.0", previous="0.2.5", start_attempts=START_ATTEMPTS)
    choice = decide(state, installed={"0.2.5", "0.3.0"})
    assert choice.exec_version is None  # the packaged core runs
    assert choice.state.current is None
    assert choice.state.quarantined == ("0.3.0",)
    assert choice.state.start_attempts == 0
    assert choice.rolled_back == "0.3.0"
    assert "never came up" in (choice.message or "")
