"""state.json's ``self_update`` key: round trip, defaults, one-line refusals."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from nodekeeper.core.errors import StateError
from nodekeeper.core.selfupdate.state import SelfUpdateState, Trying
from nodekeeper.core.state import State, StateStore


def sample() -> SelfUpdateState:
    return SelfUpdateState(
        current="0.3.0",
        previous=None,
        trying=Trying("0.4.0", "0.3.0", "2026-12-01T20:00:00.000Z", "on-probation"),
        quarantined=("0.3.5",),
        updates_enabled=False,
        last_check=1764619200.0,
        next_check=1764622800.5,
        last_failure={"version": "0.3.5", "reason": "did not answer", "time": "2026-12-01T19Z"},
    )


def test_round_trips_inside_state_json() -> None:
    state = State(current="1.3.0", self_update=sample())
    assert State.from_json(state.to_json()) == state
    assert json.loads(state.to_json())["self_update"]["trying"]["phase"] == "on-probation"


def test_default_is_not_written_so_older_files_read_the_same() -> None:
    assert "self_update" not in State().to_dict()
    assert State.from_json('{"schema": 1}').self_update == SelfUpdateState()


def test_unknown_fields_of_a_newer_release_are_kept() -> None:
    data = {**sample().to_dict(), "launcher": {"x": 1}}
    kept = SelfUpdateState.from_dict(data)
    assert kept.extra == {"launcher": {"x": 1}}
    assert replace(kept, current="0.5.0").to_dict()["launcher"] == {"x": 1}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([], "'self_update': expected an object"),
        ({"current": 3}, "'self_update': 'current' must hold version strings"),
        ({"quarantined": "0.3.5"}, "'self_update': 'quarantined' must be a list"),
        ({"updates_enabled": "off"}, "'updates_enabled' must be true, false or null"),
        ({"last_check": "yesterday"}, "'last_check' must be a time in seconds"),
        ({"trying": "0.4.0"}, "'trying' must be an object or null"),
        (
            {"trying": {"previous": None, "started": "t", "phase": "on-probation"}},
            "'trying.version'",
        ),
        ({"trying": {"version": "0.4.0", "started": "t", "phase": "soon"}}, "'trying.phase'"),
        ({"trying": {"version": "0.4.0", "phase": "handing-over"}}, "'trying.started'"),
        ({"last_failure": {"version": "0.4.0"}}, "'last_failure.reason' must be a string"),
    ],
)
def test_bad_values_are_refused_naming_the_key(value: object, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        State.from_dict({"schema": 1, "self_update": value})
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_store_update_sets_it_and_a_bad_file_is_one_line(tmp_path: Path) -> None:
    states = StateStore(tmp_path / "state.json")
    states.update(self_update=sample())
    assert StateStore(tmp_path / "state.json").load().self_update == sample()
    (tmp_path / "state.json").write_text('{"schema": 1, "self_update": {"current": 1}}')
    states = StateStore(tmp_path / "state.json")
    with pytest.raises(StateError) as caught:
        states.load()
    assert "'self_update': 'current' must hold version strings" in str(caught.value)
    assert "\n" not in str(caught.value)
