from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nodekeeper.tray.throttle import UNREACHABLE, Notification, NotificationThrottle, slept


def note(kind: str = "update-failed", message: str = "m", instance: str = "a") -> Notification:
    return Notification(kind=kind, title="t", message=message, instance=instance)


def test_notifications_within_limit_are_shown_at_once() -> None:
    throttle = NotificationThrottle(limit=2, window_s=60)
    assert throttle.offer(note(message="one"), now=0) == note(message="one")
    assert throttle.offer(note(message="two"), now=1) == note(message="two")


def test_repeats_beyond_limit_collapse_into_one_and_n_more() -> None:
    throttle = NotificationThrottle(limit=2, window_s=60)
    for i in range(6):
        throttle.offer(note(message=f"failure {i}"), now=i)
    assert throttle.due(now=59) == []
    assert throttle.next_due() == 60
    (summary,) = throttle.due(now=60)
    assert summary.text == "failure 5 … and 3 more"
    assert throttle.due(now=61) == []
    assert throttle.next_due() is None


def test_limit_is_per_kind() -> None:
    throttle = NotificationThrottle(limit=1, window_s=60)
    assert throttle.offer(note("crash-loop"), now=0) is not None
    assert throttle.offer(note("rolled-back"), now=0) is not None
    assert throttle.offer(note("crash-loop"), now=1) is None


def test_held_notification_folds_into_the_next_one_when_window_has_room() -> None:
    throttle = NotificationThrottle(limit=1, window_s=10)
    throttle.offer(note(message="a"), now=0)
    throttle.offer(note(message="b"), now=1)
    shown = throttle.offer(note(message="c"), now=20)
    assert shown is not None and shown.text == "c … and 1 more"
    assert throttle.due(now=100) == []


def test_unreachable_is_not_shown_in_grace_period_after_start() -> None:
    throttle = NotificationThrottle(grace_s=15)
    throttle.started(now=100)
    assert throttle.offer(note(UNREACHABLE), now=105) is None
    assert throttle.due(now=114.9) == []
    assert throttle.next_due() == 115
    assert throttle.due(now=115) == [note(UNREACHABLE)]


def test_unreachable_withdrawn_during_grace_is_never_shown() -> None:
    throttle = NotificationThrottle(grace_s=15)
    throttle.started(now=0)
    throttle.offer(note(UNREACHABLE, instance="a"), now=1)
    throttle.offer(note(UNREACHABLE, instance="b"), now=1)
    throttle.withdraw(UNREACHABLE, "a")
    assert throttle.due(now=20) == [note(UNREACHABLE, instance="b")]


def test_resume_starts_a_new_grace_period() -> None:
    throttle = NotificationThrottle(grace_s=15)
    throttle.started(now=0)
    assert throttle.offer(note(UNREACHABLE), now=100) is not None
    throttle.resumed(now=5000)
    assert throttle.offer(note(UNREACHABLE), now=5001) is None


def test_other_kinds_are_shown_during_grace_period() -> None:
    throttle = NotificationThrottle(grace_s=15)
    throttle.started(now=0)
    assert throttle.offer(note("update-installed"), now=1) is not None


offers = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(min_value=0, max_value=50)),
    max_size=60,
)


@settings(deadline=None)  # the machine is shared; speed is not what is tested
@given(offers, st.integers(min_value=1, max_value=4), st.floats(min_value=1, max_value=30))
def test_never_more_than_limit_per_kind_per_window_and_nothing_is_lost(
    offered: list[tuple[str, float]], limit: int, window: float
) -> None:
    throttle = NotificationThrottle(limit=limit, window_s=window, grace_s=0)
    shown: list[tuple[float, Notification]] = []
    for kind, t in sorted(offered, key=lambda o: o[1]):
        shown += [(t, n) for n in throttle.due(t)]
        result = throttle.offer(note(kind), t)
        if result is not None:
            shown.append((t, result))
    while (t_next := throttle.next_due()) is not None:
        shown += [(t_next, n) for n in throttle.due(t_next)]
    for kind in "abc":
        times = [t for t, n in shown if n.kind == kind]
        for i, start in enumerate(times):
            in_window = [t for t in times[i:] if t < start + window]
            assert len(in_window) <= limit
        represented = sum(1 + n.more for _, n in shown if n.kind == kind)
        assert represented == sum(1 for k, _ in offered if k == kind)


def test_suspend_is_detected_when_the_wall_clock_jumps_ahead() -> None:
    assert slept(prev_wall=1000, prev_mono=50, wall=4600, mono=51)
    assert not slept(prev_wall=1000, prev_mono=50, wall=1001.5, mono=51)
    assert not slept(prev_wall=1000, prev_mono=50, wall=995, mono=51)  # clock set back
