from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodekeeper.core.supervise.lifecycle import NodeState
from nodekeeper.tray.model import (
    READ_ONLY_HINT,
    BadStatus,
    Connection,
    IconState,
    InstanceModel,
    attention_reason,
    icon_state,
    instance_items,
    notification_for_event,
    overall_icon_state,
    parse_status,
    status_line,
    tooltip,
    version_key,
)
from tests.unit.tray.protocol_server import sample_status, self_update_part


def model(
    status: dict[str, Any] | None = None, can_control: bool = True, **changes: Any
) -> InstanceModel:
    m = InstanceModel("/run/a.sock", "a", dashboard_url="http://127.0.0.1:14002/")
    m = m.connected({"type": "hello", "instance": "storagenode", "can_control": can_control}, now=0)
    m = m.with_status(parse_status(status or sample_status()))
    return m


def status_with(**paths: Any) -> dict[str, Any]:
    status = copy.deepcopy(sample_status())
    for path, value in paths.items():
        section, key = path.split("__")
        status[section][key] = value
    return status


def test_status_line_shows_version_state_and_uptime() -> None:
    assert status_line(model()) == "Node v1.2.3 — running, up 3 d"


def test_status_line_without_uptime_when_not_running() -> None:
    assert status_line(model(status_with(node__state="backoff"))) == "Node v1.2.3 — backoff"


def test_unreachable_core_gives_error_icon_and_retry_line() -> None:
    m = model().lost(now=5)
    assert icon_state(m) is IconState.ERROR
    assert status_line(m) == "Core not reachable — retrying"


def test_healthy_running_node_is_ok() -> None:
    assert icon_state(model()) is IconState.OK


@pytest.mark.parametrize(
    "updates_state", ["downloading", "installing", "probation", "rolling-back"]
)
def test_update_in_progress_is_busy(updates_state: str) -> None:
    assert icon_state(model(status_with(updates__state=updates_state))) is IconState.BUSY


@pytest.mark.parametrize(
    "changes",
    [
        {"node__state": "crash-looping"},
        {"updates__enabled": False, "updates__suggested": "1.3.0"},
        {"updates__minimum": "1.3.0", "updates__suggested": "1.3.0"},
    ],
    ids=["crash-looping", "update-available-with-updates-off", "below-minimum"],
)
def test_conditions_needing_the_operator_give_attention(changes: dict[str, Any]) -> None:
    assert icon_state(model(status_with(**changes))) is IconState.ATTENTION


@pytest.mark.parametrize(
    ("state", "icon", "reason"),
    [
        ("starting", IconState.OK, None),
        ("running", IconState.OK, None),
        ("stopping", IconState.OK, None),
        ("backoff", IconState.OK, None),
        ("updating", IconState.BUSY, None),
        ("stopped", IconState.ATTENTION, "the node is stopped"),
        ("crash-looping", IconState.ATTENTION, "the node keeps crashing"),
    ],
)
def test_each_node_state_of_the_lifecycle_has_its_icon_and_reason(
    state: str, icon: IconState, reason: str | None
) -> None:
    m = model(status_with(node__state=state))
    assert icon_state(m) is icon
    assert attention_reason(m) == reason


def test_the_tray_knows_exactly_the_lifecycle_states() -> None:
    assert {str(state) for state in NodeState} == {
        "starting", "running", "stopping", "stopped", "backoff", "crash-looping", "updating"
    }  # fmt: skip
    for state in NodeState:
        assert parse_status(status_with(node__state=str(state))).node_state is state


def test_update_available_with_updates_on_is_not_attention() -> None:
    assert icon_state(model(status_with(updates__suggested="1.3.0"))) is IconState.OK


def test_overall_icon_is_the_worst_instance() -> None:
    ok, busy = model(), model(status_with(updates__state="installing"))
    assert overall_icon_state([ok, busy]) is IconState.BUSY
    assert overall_icon_state([ok, busy, ok.lost(1)]) is IconState.ERROR
    assert overall_icon_state([]) is IconState.ERROR


def test_updates_toggled_event_changes_the_checkbox_state() -> None:
    m = model().with_event("updates-toggled", {"enabled": False})
    assert m.status is not None and m.status.updates_enabled is False
    (item,) = [i for i in instance_items(m) if i.key == "updates"]
    assert item.checkable and not item.checked and item.enabled


def test_read_only_connection_disables_control_items_with_explanation() -> None:
    items = {i.key: i for i in instance_items(model(can_control=False))}
    assert not items["updates"].enabled and items["updates"].tooltip == READ_ONLY_HINT
    assert items["updates"].checked  # still shows the core's setting
    assert not items["check"].enabled and not items["restart"].enabled
    assert items["dashboard"].enabled and items["logs"].enabled


def test_menu_items_are_in_the_documented_order() -> None:
    keys = [i.key for i in instance_items(model())]
    assert keys == ["status", "updates", "check", "restart", "dashboard", "logs"]


def test_tooltip_summarises_every_instance() -> None:
    a = model()
    b = InstanceModel("/run/b.sock", "b").lost(1)
    text = tooltip([a, b])
    assert "storagenode: Node v1.2.3 — running, up 3 d, updates on" in text
    assert "b: Core not reachable — retrying" in text


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("update-installed", {"version": "1.3.0"}, "Node updated to 1.3.0"),
        (
            "update-failed",
            {"version": "1.3.0", "reason": "hash mismatch"},
            "Update to 1.3.0 failed: hash mismatch",
        ),
        (
            "rolled-back",
            {"to": "1.2.3", "from": "1.3.0"},
            "Rolled back to 1.2.3 (1.3.0 did not run healthily)",
        ),
        ("crash-loop", {}, "The node crashed repeatedly"),
        ("crash-loop", {"exits": 10, "window_s": 600.0}, "The node crashed 10 times within 10 min"),
    ],
)
def test_events_that_matter_become_notifications(
    kind: str, data: dict[str, Any], expected: str
) -> None:
    note = notification_for_event(model(), kind, data)
    assert note is not None and note.text == expected and note.kind == kind


def test_update_available_notifies_only_when_updates_are_off() -> None:
    assert notification_for_event(model(), "update-available", {"version": "1.3.0"}) is None
    off = model(status_with(updates__enabled=False))
    note = notification_for_event(off, "update-available", {"version": "1.3.0"})
    assert note is not None and "1.3.0" in note.text and "off" in note.text


def test_routine_events_are_silent() -> None:
    for kind in ("node-started", "update-progress", "updates-toggled", "update-started"):
        assert notification_for_event(model(), kind, {}) is None


@pytest.mark.parametrize(
    ("status", "field"),
    [
        ({}, "node"),
        (status_with(node__state="dancing"), "node.state"),
        (status_with(updates__enabled="yes"), "updates.enabled"),
        (status_with(node__uptime_s="long"), "node.uptime_s"),
        ([], "not a JSON object"),
    ],
)
def test_bad_status_is_rejected_naming_the_field(status: Any, field: str) -> None:
    with pytest.raises(BadStatus, match=field.replace(".", r"\.")):
        parse_status(status)


@settings(deadline=None)  # the machine is shared; speed is not what is tested
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    )
)
def test_any_json_is_either_a_status_or_one_bad_status_error(value: Any) -> None:
    try:
        parse_status(value)
    except BadStatus as exc:
        assert "\n" not in str(exc)


def test_versions_compare_semantically() -> None:
    assert version_key("1.10.0") > version_key("1.9.9")  # type: ignore[operator]
    assert version_key("v1.2.3") == version_key("1.2.3")
    assert version_key("1.3.0-rc1") < version_key("1.3.0")  # type: ignore[operator]
    assert version_key("latest") is None


def test_connecting_instance_is_busy_not_error() -> None:
    m = InstanceModel("/run/a.sock", "a")
    assert m.connection is Connection.CONNECTING and icon_state(m) is IconState.BUSY
    assert status_line(m) == "Connecting…"


def test_failing_health_check_needs_attention_only_once_the_node_runs() -> None:
    starting = model(status_with(node__state="starting", node__healthy=False))
    assert icon_state(starting) is IconState.OK
    running = model(status_with(node__healthy=False))
    assert icon_state(running) is IconState.ATTENTION


def test_a_stop_by_the_operator_is_said_in_words() -> None:
    stopped = model(status_with(node__state="stopped", node__stopped_by_operator=True))
    assert status_line(stopped) == "Node v1.2.3 — stopped by operator"
    reason = attention_reason(stopped)
    assert reason is not None and "stopped by the operator" in reason
    assert "stopped by operator" in tooltip([stopped])
    plain = model(status_with(node__state="stopped"))
    assert status_line(plain) == "Node v1.2.3 — stopped"


def test_the_tooltip_says_the_last_exit_the_download_and_the_last_failure() -> None:
    status = status_with(
        node__state="crash-looping",
        node__last_exit={
            "code": 1,
            "signal": None,
            "reason": "crashed",
            "time": "2026-11-27T05:00:00Z",
            "ran_s": 3,
            "last_line": "bind: address already in use",
        },
        updates__state="downloading",
        updates__progress={"bytes": 50, "total": 100, "version": "1.3.0"},
        updates__last_failure={"message": "source unreachable", "time": "2026-11-27T04:00:00Z"},
    )
    m = model(status)
    reason = attention_reason(m)
    assert reason == (
        "the node keeps crashing; last exit: exited with code 1 after 3 s: "
        "bind: address already in use"
    )
    text = tooltip([m])
    assert "downloading 1.3.0: 50 B of 100 B (50 %)" in text
    assert "last update failure: source unreachable" in text
    assert text.count("bind: address already in use") == 1


def self_updating(**part: Any) -> dict[str, Any]:
    return {**sample_status(), "self_update": {**self_update_part(), **part}}


def test_a_self_updating_core_gets_a_version_line_and_a_second_toggle() -> None:
    items = {i.key: i for i in instance_items(model(self_updating()))}
    keys = [i.key for i in instance_items(model(self_updating()))]
    assert keys == [
        "status", "core", "updates", "self-updates", "check", "restart", "dashboard", "logs"
    ]  # fmt: skip
    assert items["core"].text == "Core v0.1.0 — updates on, v0.2.0 available"
    assert not items["core"].enabled
    assert items["self-updates"].checkable and items["self-updates"].checked
    assert items["self-updates"].text == "Automatic core updates"
    off = {i.key: i for i in instance_items(model(self_updating(enabled=False), False))}
    assert not off["self-updates"].checked and not off["self-updates"].enabled
    assert off["self-updates"].text == "Automatic core updates (read-only)"


def test_the_core_line_says_what_the_core_update_is_doing() -> None:
    busy = self_updating(state="downloading", latest="0.1.0", last_error="slow mirror")
    items = {i.key: i for i in instance_items(model(busy))}
    assert items["core"].text == "Core v0.1.0 — updates on, downloading"
    assert items["core"].tooltip == "Last core update problem: slow mirror"
    assert "; Core v0.1.0 — updates on, downloading" in tooltip([model(busy)])


def test_toggling_the_core_updates_elsewhere_changes_only_the_core_toggle() -> None:
    m = model(self_updating()).with_event("updates-toggled", {"enabled": False, "part": "core"})
    assert m.status is not None and m.status.core_updates is not None
    assert m.status.core_updates.enabled is False and m.status.updates_enabled is True
    m = m.with_event("updates-toggled", {"enabled": False})
    assert m.status is not None and m.status.updates_enabled is False


def test_a_bad_self_update_part_is_refused_naming_the_field() -> None:
    with pytest.raises(BadStatus, match=r"self_update\.enabled"):
        parse_status(self_updating(enabled="yes"))
    with pytest.raises(BadStatus, match="self_update is not an object"):
        parse_status({**sample_status(), "self_update": []})
