"""Pure download policy: minimum-rate guard and free-space arithmetic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.update.download_policy import RateGuard, required_space


def test_fast_transfer_is_never_too_slow() -> None:
    guard = RateGuard(min_rate=1000, window=10, start=0)
    assert not any(guard.too_slow(t, 2000) for t in range(1, 100))


def test_trickle_is_too_slow_after_one_window() -> None:
    guard = RateGuard(min_rate=1000, window=10, start=0)
    results = [guard.too_slow(t, 1) for t in range(1, 12)]
    assert results[:9] == [False] * 9
    assert results[9] is True


def test_slowdown_after_good_start_is_noticed() -> None:
    guard = RateGuard(min_rate=1000, window=10, start=0)
    assert not guard.too_slow(10, 50_000)
    assert not any(guard.too_slow(t, 10) for t in range(11, 20))
    assert guard.too_slow(20, 10)


@given(st.integers(0, 1 << 40), st.integers(0, 1 << 40), st.integers(0, 1 << 40))
def test_required_space_is_three_times_plus_reserve_minus_what_is_there(
    length: int, reserve: int, have: int
) -> None:
    need = required_space(length, reserve, have)
    assert need == max(0, 3 * length + reserve - have)
