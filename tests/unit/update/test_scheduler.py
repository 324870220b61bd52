from __future__ import annotations

import datetime as dt
import random
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.update.scheduler import RETRY_AFTER_CAP, CheckScheduler, parse_retry_after

H = 3600.0
T0 = 1_800_000_000.0  # a wall-clock instant, 2027


def sched(
    seed: int = 1, interval: float = 12 * H, jitter: float = H, startup: float = 300
) -> CheckScheduler:
    return CheckScheduler(interval, jitter, startup, random.Random(seed))


def test_first_check_without_history_lands_within_startup_delay() -> None:
    times = [sched(seed).first_check(T0) - T0 for seed in range(500)]
    assert all(0 <= t <= 300 for t in times)
    # spread, not clumped at one end
    assert min(times) < 30 and max(times) > 270


def test_saved_next_check_is_kept_after_restart() -> None:
    s = sched()
    assert s.first_check(T0, last_check=T0 - 2 * H, next_check=T0 + 9.5 * H) == T0 + 9.5 * H


def test_recent_check_without_saved_slot_keeps_its_cadence() -> None:
    last = T0 - 2 * H
    first = sched().first_check(T0, last_check=last)
    assert last + 11 * H <= first <= last + 13 * H


def test_slot_missed_while_down_moves_to_next_slot_in_phase() -> None:
    # Scheduled 10 min before the restart: skip to the same phase one interval on.
    firsts = [
        sched(seed).first_check(T0, last_check=T0 - 11.8 * H, next_check=T0 - 600)
        for seed in range(200)
    ]
    assert all(T0 - 600 + 11 * H <= f <= T0 - 600 + 13 * H for f in firsts)
    # spread again by the jitter, not moved as one block
    assert max(firsts) - min(firsts) > 1.5 * H
    # Down for 11 h since the slot: still in phase.
    first = sched().first_check(T0, last_check=T0 - 23 * H, next_check=T0 - 11 * H)
    assert T0 <= first <= T0 - 11 * H + 13 * H


def test_implausible_saved_slot_is_replaced() -> None:
    first = sched().first_check(T0, last_check=T0 - H, next_check=T0 + 100 * H)
    assert T0 + 10 * H <= first <= T0 + 12 * H


def test_long_silence_or_no_history_checks_soon_after_start() -> None:
    assert sched().first_check(T0, last_check=T0 - 25 * H) <= T0 + 300
    assert sched().first_check(T0, last_check=None, next_check=T0 + H) <= T0 + 300
    # a last_check in the future (clock stepped back) is not trusted
    assert sched().first_check(T0, last_check=T0 + 5 * H) <= T0 + 300


@given(
    st.floats(0, 24 * H),
    st.none() | st.floats(-30 * H, 30 * H),
    st.integers(0, 2**32),
)
def test_first_check_is_never_in_the_past_nor_far_away(
    since_last: float, next_offset: float | None, seed: int
) -> None:
    s = sched(seed)
    last = T0 - since_last
    first = s.first_check(
        T0, last_check=last, next_check=None if next_offset is None else T0 + next_offset
    )
    assert T0 <= first <= T0 + 13 * H


def test_check_after_startup_check_gets_a_random_phase() -> None:
    gaps = []
    for seed in range(300):
        s = sched(seed)
        first = s.first_check(T0)
        gaps.append(s.after_success(first) - first)
    assert all(1.2 * H <= g <= 13 * H for g in gaps)
    assert min(gaps) < 3 * H and max(gaps) > 11 * H


def test_regular_checks_stay_within_interval_plus_minus_jitter() -> None:
    s = sched()
    s.first_check(T0, last_check=T0 - H)
    now = T0
    gaps = []
    for _ in range(1000):
        nxt = s.after_success(now)
        gaps.append(nxt - now)
        now = nxt
    assert all(11 * H <= g <= 13 * H for g in gaps)
    assert min(gaps) < 11.1 * H and max(gaps) > 12.9 * H


def test_jitter_larger_than_interval_never_allows_back_to_back_checks() -> None:
    s = CheckScheduler(600, 3600, 0, random.Random(3))
    now = T0
    for _ in range(500):
        nxt = s.after_success(now)
        assert nxt - now >= 60
        now = nxt


def test_failures_back_off_exponentially_up_to_interval() -> None:
    interval = 12 * H
    ceilings = []
    for seed in range(200):
        s = sched(seed)
        now = T0
        gaps = []
        for _ in range(8):
            nxt = s.after_failure(now)
            gaps.append(nxt - now)
            now = nxt
        ceilings.append(gaps)
    for i in range(8):
        column = [g[i] for g in ceilings]
        assert min(column) >= interval / 10
        assert max(column) <= min(interval, interval / 10 * 2 ** (i + 1))
    # later tries wait longer on average
    means = [sum(g[i] for g in ceilings) / len(ceilings) for i in range(8)]
    assert means[0] < means[1] < means[2] < means[3]


def test_success_resets_backoff() -> None:
    s = sched()
    for _ in range(5):
        s.after_failure(T0)
    assert s.failures == 5
    s.after_success(T0)
    assert s.failures == 0
    gap = s.after_failure(T0) - T0
    assert gap <= 2 * 1.2 * H


def test_retry_after_is_honoured_and_capped() -> None:
    s = sched()
    assert s.after_failure(T0, retry_after=5 * H) >= T0 + 5 * H
    s2 = sched()
    assert s2.after_failure(T0, retry_after=10 * 24 * H) == T0 + RETRY_AFTER_CAP


def test_check_now_respects_retry_after_but_is_otherwise_immediate() -> None:
    s = sched()
    assert s.check_now(T0) == T0
    s.after_failure(T0, retry_after=600)
    assert s.check_now(T0 + 10) == T0 + 600
    assert s.check_now(T0 + 700) == T0 + 700


def test_next_check_is_remembered_for_status() -> None:
    s = sched()
    when = s.first_check(T0)
    assert s.next_check == when


@pytest.mark.parametrize(
    ("interval", "jitter", "startup"),
    [(0, 0, 0), (-1, 0, 0), (10, -1, 0), (10, 0, -5), (float("nan"), 0, 0)],
)
def test_impossible_settings_are_refused(interval: float, jitter: float, startup: float) -> None:
    with pytest.raises(ValueError):
        CheckScheduler(interval, jitter, startup)


@given(
    st.lists(st.tuples(st.booleans(), st.none() | st.floats(0, 10 * 24 * H)), max_size=60),
    st.integers(0, 2**32),
)
def test_never_a_tight_loop_and_never_stuck(
    events: list[tuple[bool, float | None]], seed: int
) -> None:
    s = sched(seed)
    now = s.first_check(T0)
    for ok, retry_after in events:
        nxt = s.after_success(now) if ok else s.after_failure(now, retry_after)
        assert nxt - now >= 1.2 * H - 1e-6
        assert nxt - now <= RETRY_AFTER_CAP + 1e-6
        now = nxt


def test_parse_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("120", T0) == 120
    assert parse_retry_after(" 0 ", T0) == 0
    when = dt.datetime.fromtimestamp(T0 + 90, dt.UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True), T0) == pytest.approx(90)
    past = dt.datetime.fromtimestamp(T0 - 90, dt.UTC)
    assert parse_retry_after(format_datetime(past, usegmt=True), T0) == 0
    assert parse_retry_after("99999999", T0) == RETRY_AFTER_CAP


@pytest.mark.parametrize(
    "header", [None, "", "soon", "-5", "1.5", "²", "Mon, 99 Foo 2026 25:00:00 GMT"]
)
def test_parse_retry_after_ignores_garbage(header: str | None) -> None:
    assert parse_retry_after(header, T0) is None
