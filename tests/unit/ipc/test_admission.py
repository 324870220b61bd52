"""Who gets a control connection and how long a quiet one stays (pure, fake clock)."""

from __future__ import annotations

import pytest

from nodekeeper.core.ipc.admission import Admission, Limits, accept_retry_delay, time_left

LIMITS = Limits(max_connections=10, max_per_user=3, reserved=4)


def test_read_only_user_is_capped_per_user_and_reported_once_per_streak() -> None:
    admission = Admission(LIMITS)
    assert [admission.admit(1000, trusted=False) for _ in range(3)] == [None] * 3
    first = admission.admit(1000, trusted=False)
    second = admission.admit(1000, trusted=False)
    assert first is not None and first.report and "user 1000" in first.reason
    assert second is not None and not second.report
    admission.release(1000)
    assert admission.admit(1000, trusted=False) is None
    again = admission.admit(1000, trusted=False)
    assert again is not None and again.report


def test_read_only_users_never_take_the_places_kept_for_trusted_clients() -> None:
    admission = Admission(LIMITS)
    for uid in (1001, 1002):
        for _ in range(3):
            assert admission.admit(uid, trusted=False) is None
    refused = admission.admit(1003, trusted=False)
    assert refused is not None and "kept for it" in refused.reason
    for _ in range(4):
        assert admission.admit(0, trusted=True) is None
    assert admission.admit(0, trusted=True) is not None  # the total holds for everyone
    assert admission.total == 10


def test_trusted_clients_have_no_per_user_cap_only_the_total() -> None:
    admission = Admission(LIMITS)
    assert all(admission.admit(0, trusted=True) is None for _ in range(10))
    assert admission.admit(0, trusted=True) is not None


def test_unknown_users_count_toward_the_total_only() -> None:
    admission = Admission(LIMITS)
    assert all(admission.admit(None, trusted=False) is None for _ in range(6))
    assert admission.admit(None, trusted=False) is not None
    for _ in range(6):
        admission.release(None)
    assert admission.total == 0


def test_quiet_connections_get_the_hello_then_the_idle_timeout() -> None:
    limits = Limits(hello_timeout=10, idle_timeout=300)
    assert time_left(limits, now=104.0, since=100.0, asked=False, subscribed=False) == 6.0
    assert time_left(limits, now=120.0, since=100.0, asked=False, subscribed=False) == 0.0
    assert time_left(limits, now=200.0, since=100.0, asked=True, subscribed=False) == 200.0
    assert time_left(limits, now=10**6, since=100.0, asked=True, subscribed=True) is None


def test_accept_retry_grows_and_is_bounded() -> None:
    delays = [accept_retry_delay(LIMITS, n) for n in range(0, 12)]
    assert delays[0] == 0.0 and delays[1] == LIMITS.accept_retry_first
    assert delays == sorted(delays)
    assert max(delays) == LIMITS.accept_retry_max


def test_limits_follow_the_open_file_limit() -> None:
    small = Limits.for_open_files(64)
    assert small.max_connections == 32 and small.reserved == 16
    assert Limits.for_open_files(1 << 20).max_connections == Limits.max_connections
    with pytest.raises(ValueError):
        Limits(max_connections=4, reserved=4)


def test_connections_waiting_for_the_group_lookup_count_toward_the_users_share() -> None:
    admission = Admission(LIMITS)
    assert [admission.begin(1000, now=0.0) for _ in range(3)] == [None] * 3
    early = admission.begin(1000, now=0.0)
    assert early is not None and early.report and "user 1000" in early.reason
    assert admission.total == 3
    admission.abandon(1000)
    assert admission.admit(1000, trusted=False, now=0.1) is None
    assert admission.admit(1000, trusted=False, now=0.1) is None
    assert admission.total == 2 and admission.count(1000) == 2


def test_a_user_found_in_the_control_group_is_not_held_to_the_share_for_a_while() -> None:
    admission = Admission(LIMITS)
    for _ in range(3):
        assert admission.begin(1001, now=0.0) is None
        assert admission.admit(1001, trusted=True, now=0.0) is None
    assert admission.begin(1001, now=5.0) is None  # remembered as trusted
    assert admission.admit(1001, trusted=True, now=5.0) is None
    later = 5.0 + LIMITS.trust_remembered + 1  # each admission as trusted renews it
    assert admission.begin(1001, now=later) is not None  # asked again once forgotten
