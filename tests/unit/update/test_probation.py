"""Probation verdicts: which events fail a new version, and the verdict at the end."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.update.probation import failure_of, verdict

NODE_STATES = ["starting", "running", "stopping", "stopped", "backoff", "crash-looping", "updating"]
OTHER_EVENTS = [
    "node-started",
    "update-progress",
    "update-installed",
    "logs-dropped",
    "disk-low",
    "crash-loop",
]


def test_crash_fails_probation_with_its_detail() -> None:
    assert failure_of("node-exited", {"requested": False, "detail": "exit code 2"}) == (
        "node-exited: exit code 2"
    )


def test_exit_the_core_asked_for_is_not_a_failure() -> None:
    assert failure_of("node-exited", {"requested": True, "reason": "update"}) is None


def test_failed_health_checks_fail_probation() -> None:
    assert failure_of("node-unhealthy", {"detail": "HTTP 500"}) == "node-unhealthy: HTTP 500"
    assert failure_of("node-unhealthy", {}) == "node-unhealthy: node-unhealthy"


def test_reason_is_used_when_there_is_no_detail() -> None:
    assert failure_of("node-exited", {"reason": "killed"}) == "node-exited: killed"


@given(st.sampled_from(OTHER_EVENTS), st.dictionaries(st.text(max_size=8), st.booleans()))
def test_other_events_never_fail_probation(kind: str, data: dict[str, Any]) -> None:
    assert failure_of(kind, data) is None


@given(st.sampled_from(NODE_STATES), st.booleans(), st.floats(0, 1e6, allow_nan=False))
def test_verdict_passes_only_a_running_healthy_node(
    state: str, healthy: bool, probation: float
) -> None:
    reason = verdict(None, {"state": state, "healthy": healthy}, probation)
    if state == "running" and healthy:
        assert reason is None
    else:
        assert reason == (f"not running and healthy after {probation:g}s of probation ({state})")


@pytest.mark.parametrize("state", NODE_STATES)
def test_a_failure_seen_during_probation_wins_over_the_final_status(state: str) -> None:
    node = {"state": state, "healthy": True}
    assert verdict("node-exited: exit code 1", node, 300) == "node-exited: exit code 1"
