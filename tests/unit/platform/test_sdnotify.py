"""sd_notify: where messages go and how often the watchdog hears from the core."""

from __future__ import annotations

from nodekeeper.core.platform.sdnotify import Notifier, socket_address, watchdog_interval


def test_a_path_is_used_as_is_and_an_at_sign_means_an_abstract_socket() -> None:
    assert socket_address({"NOTIFY_SOCKET": "/run/systemd/notify"}) == "/run/systemd/notify"
    assert socket_address({"NOTIFY_SOCKET": "@sd-notify/1"}) == b"\0sd-notify/1"


def test_no_or_a_relative_notify_socket_means_no_systemd_to_tell() -> None:
    assert socket_address({}) is None
    assert socket_address({"NOTIFY_SOCKET": ""}) is None
    assert socket_address({"NOTIFY_SOCKET": "relative/path"}) is None
    assert not Notifier({}).enabled
    assert Notifier({}).send("READY=1") is False


def test_watchdog_pings_at_half_the_deadline() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "60000000"}, pid=7) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "7"}, pid=7) == 30.0


def test_watchdog_meant_for_another_process_or_malformed_is_ignored() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "8"}, pid=7) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}, pid=7) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}, pid=7) is None
    assert watchdog_interval({}, pid=7) is None
