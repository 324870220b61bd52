"""What `nodekeeper status` and `check` print (pure formatting)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.commands.client import (
    decision_problem,
    format_decision,
    format_status,
    humanize_bytes,
    humanize_duration,
)

STATUS: dict[str, Any] = {
    "instance": "storagenode",
    "core_version": "0.1.0",
    "node": {
        "state": "backoff",
        "pid": None,
        "version": "1.2.3",
        "uptime_s": 0,
        "restarts": 1,
        "healthy": False,
        "last_exit": "exit code 2",
    },
    "updates": {
        "enabled": False,
        "source": "tuf",
        "state": "disabled",
        "last_check": "2026-11-27T05:00:00Z",
        "last_error": "release source unreachable",
        "next_check": "2026-11-27T17:12:00Z",
        "minimum": "1.2.0",
        "suggested": "1.3.0",
        "candidate": False,
        "pending": None,
        "previous": "1.2.2",
        "quarantined": ["1.3.1"],
    },
    "logs": {"dir": "/var/log/nodekeeper", "bytes": 1048576, "dropped_lines": 1},
    "limits": {"memory_max": None, "cpu_max": None, "enforced_by": None},
}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m"),
        (3725, "1h 2m"),
        (7200, "2h"),
        (90061, "1d 1h"),
        (-1, "?"),
    ],
)
def test_uptime_is_humanised_to_two_units(seconds: float, text: str) -> None:
    assert humanize_duration(seconds) == text


def test_sizes_are_humanised() -> None:
    assert humanize_bytes(512) == "512 B"
    assert humanize_bytes(1048576) == "1.0 MiB"
    assert humanize_bytes("big") == "?"


def test_summary_shows_what_an_operator_needs() -> None:
    text = format_status(STATUS, "/run/nodekeeper/storagenode.sock")
    for expected in (
        "storagenode (core 0.1.0, /run/nodekeeper/storagenode.sock)",
        "backoff, version 1.2.3, up 0s, 1 restart, NOT healthy",
        "last exit: exit code 2",
        "updates   off, disabled (source tuf); last check 2026-11-27T05:00:00Z",
        "next check 2026-11-27T17:12:00Z",
        "minimum 1.2.0, suggested 1.3.0, previous 1.2.2, quarantined 1.3.1",
        "last error: release source unreachable",
        "/var/log/nodekeeper (1.0 MiB), 1 dropped line",
    ):
        assert expected in text, f"{expected!r} not in\n{text}"


@given(
    st.dictionaries(
        st.sampled_from(["node", "updates", "logs", "instance"]),
        st.none()
        | st.integers()
        | st.text()
        | st.dictionaries(st.text(max_size=10), st.none() | st.integers() | st.text(max_size=5)),
    )
)
def test_summary_never_fails_on_odd_status_objects(status: dict[str, Any]) -> None:
    assert format_status(status, "sock").startswith("instance")


@pytest.mark.parametrize(
    ("decision", "text"),
    [
        ({"action": "none", "target": None, "reason": "up to date"}, "no update: up to date"),
        ({"action": "update", "target": "1.3.0", "reason": "r"}, "updating to 1.3.0: r"),
        ({"action": "rollback", "target": "1.2.0", "reason": "r"}, "rolling back to 1.2.0: r"),
        (
            {"action": "notify", "target": "1.3.0", "reason": "r"},
            "update to 1.3.0 is due but automatic updates are off: r",
        ),
    ],
)
def test_decisions_read_as_sentences(decision: dict[str, Any], text: str) -> None:
    assert decision_problem(decision) is None
    assert format_decision(decision) == text


@pytest.mark.parametrize(
    "decision",
    [
        None,
        [],
        {"action": "explode", "target": None, "reason": ""},
        {"action": "none", "target": 5, "reason": ""},
        {"action": "none", "target": None},
    ],
)
def test_malformed_decisions_are_named(decision: Any) -> None:
    assert decision_problem(decision)


def test_a_stop_by_the_operator_is_said_with_how_to_end_it() -> None:
    node = {**STATUS["node"], "state": "stopped", "stopped_by_operator": True}
    text = format_status({**STATUS, "node": node}, "/run/x.sock")
    assert "node      stopped by operator ('nodekeeper start' starts it), version 1.2.3" in text


def test_the_last_exit_progress_and_last_failure_read_as_sentences() -> None:
    node = {
        **STATUS["node"],
        "last_exit": {
            "code": 1,
            "signal": None,
            "reason": "crashed",
            "time": "2026-11-27T05:00:00Z",
            "ran_s": 3,
            "last_line": "FATAL bind: address already in use",
        },
    }
    updates = {
        **STATUS["updates"],
        "state": "downloading",
        "last_error": None,
        "progress": {"bytes": 512, "total": 2048, "version": "1.3.0", "percent": 25},
        "last_failure": {"message": "release source unreachable", "time": "2026-11-27T04:00Z"},
    }
    text = format_status({**STATUS, "node": node, "updates": updates}, "/run/x.sock")
    assert "last exit: exited with code 1 after 3 s: FATAL bind: address already in use" in text
    assert "downloading 1.3.0: 512 B of 2.0 KiB (25 %)" in text
    assert "last error: none" in text
    assert "last failure: release source unreachable (2026-11-27T04:00Z)" in text


SELF_UPDATE = {
    "enabled": False,
    "source": "tuf",
    "channel": "nodekeeper",
    "state": "disabled",
    "current": "0.2.0",
    "latest": "0.3.0",
    "last_check": "2026-12-01T20:00:00Z",
    "next_check": None,
    "last_error": "cannot reach the repository",
    "trying": {"version": "0.3.0", "phase": "on-probation"},
}


def test_summary_shows_the_core_and_its_own_updates_on_a_line() -> None:
    text = format_status({**STATUS, "self_update": SELF_UPDATE}, "/run/x.sock")
    core_line = next(line for line in text.splitlines() if line.startswith("core "))
    assert core_line == (
        "core      0.2.0, self-update off, disabled (channel nodekeeper, source tuf); "
        "latest 0.3.0; last check 2026-12-01T20:00:00Z; next check not scheduled"
    )
    assert "switching to 0.3.0 (on-probation)" in text
    assert "last error: cannot reach the repository" in text
    assert text.splitlines()[-1].startswith("logs ")


@given(st.none() | st.integers() | st.text() | st.dictionaries(st.text(max_size=10), st.text()))
def test_odd_self_update_parts_never_fail(self_update: Any) -> None:
    assert format_status({"self_update": self_update}, "sock").startswith("instance")
