"""Health verdicts from a sequence of probe results."""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.supervise.health import HealthTracker, ProbeResult, probe
from tests.fixtures.http_server import serve_http

OK, FAIL = ProbeResult(True), ProbeResult(False, "timeout")


def test_restart_only_after_the_configured_consecutive_failures() -> None:
    tracker = HealthTracker(3)
    assert [tracker.record(FAIL) for _ in range(3)] == ["failing", "failing", "restart"]


def test_a_success_resets_the_count() -> None:
    tracker = HealthTracker(3)
    verdicts = [tracker.record(r) for r in (FAIL, FAIL, OK, FAIL, FAIL, OK)]
    assert "restart" not in verdicts
    assert tracker.ever_healthy


@given(st.lists(st.booleans(), max_size=200), st.integers(min_value=1, max_value=10))
def test_restart_verdict_iff_a_run_of_failures_reaches_the_limit(
    results: list[bool], limit: int
) -> None:
    tracker = HealthTracker(limit)
    run = 0
    for ok in results:
        verdict = tracker.record(ProbeResult(ok))
        run = 0 if ok else run + 1
        assert (verdict == "restart") == (run >= limit)
        assert (verdict == "healthy") == ok


def test_zero_failures_is_rejected() -> None:
    with pytest.raises(ValueError):
        HealthTracker(0)


@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/api/sno" else 503
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(Handler) as base:
        yield base


def test_probe_against_a_real_server(http_server: str) -> None:
    assert probe(http_server + "/api/sno", 2.0).ok
    failed = probe(http_server + "/other", 2.0)
    assert not failed.ok and failed.detail == "HTTP 503"


def test_probe_of_a_closed_port_fails_with_a_reason() -> None:
    result = probe("http://127.0.0.1:1/api/sno", 1.0)
    assert not result.ok and "Connection" in result.detail


def test_a_url_that_never_answered_waits_out_the_grace_then_is_unknown() -> None:
    tracker = HealthTracker(3, grace=60.0, started_at=100.0)
    assert [tracker.record(FAIL, now) for now in (101.0, 130.0, 159.0)] == ["waiting"] * 3
    assert tracker.record(FAIL, 160.0) == "unknown"
    assert tracker.record(FAIL, 500.0) == "unknown"  # never a restart for a URL never heard
    assert tracker.record(OK, 501.0) == "healthy"
    assert [tracker.record(FAIL, 502.0 + i) for i in range(3)] == ["failing", "failing", "restart"]


def test_a_frozen_process_is_not_excused_by_the_grace() -> None:
    tracker = HealthTracker(2, grace=60.0, started_at=100.0)
    frozen = ProbeResult(False, "process is stopped", process_fault=True)
    assert [tracker.record(frozen, 101.0) for _ in range(2)] == ["failing", "restart"]


def test_probe_names_a_timeout_in_words() -> None:
    import socket

    with socket.socket() as listener:  # accepts into the backlog, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        result = probe(f"http://127.0.0.1:{listener.getsockname()[1]}/", 0.3)
    assert not result.ok and result.detail == "timed out after 0.3s"
