"""The restart policy, driven with explicit times and a seeded random source."""

from __future__ import annotations

import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.config import NodeConfig
from nodekeeper.core.supervise.policy import JITTER_FRACTION, RestartPolicy


def restart_settings(
    restart_delay: float,
    restart_delay_max: float,
    stable_after: float,
    crash_loop_restarts: int,
    crash_loop_window: float,
) -> NodeConfig:
    return NodeConfig(
        command=("storagenode",),
        restart_delay=restart_delay,
        restart_delay_max=restart_delay_max,
        stable_after=stable_after,
        crash_loop_restarts=crash_loop_restarts,
        crash_loop_window=crash_loop_window,
    )


SETTINGS = restart_settings(
    restart_delay=0.1,
    restart_delay_max=300.0,
    stable_after=600.0,
    crash_loop_restarts=10,
    crash_loop_window=600.0,
)


def crash_sequence(policy: RestartPolicy, count: int, run_time: float = 1.0) -> list[float]:
    now, delays = 0.0, []
    for _ in range(count):
        started = now
        now += run_time
        decision = policy.on_exit(now, started)
        delays.append(decision.delay)
        now += decision.delay
    return delays


def test_first_restart_comes_within_restart_delay() -> None:
    decision = RestartPolicy(SETTINGS, random.Random(1)).on_exit(10.0, 9.0)
    assert (1 - JITTER_FRACTION) * 0.1 <= decision.delay <= 0.1
    assert decision.attempt == 1
    assert not decision.crash_looping


def test_delays_double_up_to_the_cap() -> None:
    settings = restart_settings(0.1, 300.0, 600.0, crash_loop_restarts=100, crash_loop_window=600.0)
    policy = RestartPolicy(settings, random.Random(2))
    delays = crash_sequence(policy, 20)
    for n, delay in enumerate(delays, start=1):
        nominal = min(300.0, 0.1 * 2 ** (n - 1))
        assert nominal * (1 - JITTER_FRACTION) <= delay <= nominal
    assert max(delays) <= 300.0
    assert delays[-1] >= 300.0 * (1 - JITTER_FRACTION)


def test_twenty_quick_crashes_reach_the_cap_and_a_crash_loop() -> None:
    policy = RestartPolicy(SETTINGS, random.Random(7))
    delays = crash_sequence(policy, 20)
    assert all(later > earlier for earlier, later in itertools.pairwise(delays[:10]))
    assert policy.crash_looping
    assert min(delays[9:]) >= 300.0 * (1 - JITTER_FRACTION)


def test_crash_loop_is_entered_once_at_the_threshold_and_keeps_retrying_at_max() -> None:
    policy = RestartPolicy(SETTINGS, random.Random(3))
    entered = []
    now = 0.0
    for n in range(1, 16):
        decision = policy.on_exit(now + 1, now)
        entered.append(decision.entered_crash_loop)
        assert decision.crash_looping == (n >= 10)
        if decision.crash_looping:
            assert decision.delay >= 300.0 * (1 - JITTER_FRACTION)
        now += 2  # crashes 2 s apart: all inside the window
    assert entered.count(True) == 1 and entered.index(True) == 9


def test_crashes_spread_wider_than_the_window_are_not_a_crash_loop() -> None:
    policy = RestartPolicy(SETTINGS, random.Random(4))
    now = 0.0
    for _ in range(30):
        decision = policy.on_exit(now + 100, now)  # a crash every 100 s…
        assert not decision.crash_looping  # …is 6 per 10 min, below 10
        now += 100 + decision.delay


def test_a_stable_run_resets_the_backoff_and_the_crash_loop() -> None:
    policy = RestartPolicy(SETTINGS, random.Random(5))
    crash_sequence(policy, 12)
    assert policy.crash_looping
    decision = policy.on_exit(10_000.0, 10_000.0 - 600.0)  # ran exactly stable_after
    assert decision.attempt == 1
    assert decision.delay <= 0.1
    assert not policy.crash_looping


def test_on_stable_clears_a_crash_loop_while_running() -> None:
    policy = RestartPolicy(SETTINGS, random.Random(6))
    crash_sequence(policy, 12)
    policy.on_stable(5000.0)
    assert not policy.crash_looping
    assert policy.on_exit(5001.0, 5000.5).attempt == 1


@given(
    base=st.floats(min_value=0.001, max_value=60),
    cap_factor=st.floats(min_value=1, max_value=10_000),
    exits=st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=60),
    seed=st.integers(),
)
def test_delay_always_between_jittered_base_and_cap(
    base: float, cap_factor: float, exits: list[float], seed: int
) -> None:
    settings = restart_settings(base, base * cap_factor, 600.0, 5, 60.0)
    policy = RestartPolicy(settings, random.Random(seed))
    now = 0.0
    for run_time in exits:
        decision = policy.on_exit(now + run_time, now)
        assert 0 < decision.delay <= settings.restart_delay_max
        assert decision.delay >= settings.restart_delay * (1 - JITTER_FRACTION) - 1e-12
        now += run_time + decision.delay


def test_huge_attempt_counts_do_not_overflow() -> None:
    policy = RestartPolicy(SETTINGS)
    assert policy.nominal_delay(10_000) == 300.0
