"""One connection's decisions (pure: bytes in, steps and bytes out, no sockets)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.ipc import protocol
from nodekeeper.core.ipc.session import Call, Send, Session, Subscribe, fit_lines

TIME = "2026-11-27T05:00:00.000Z"


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def ask(request_id: int, method: str, **params: Any) -> bytes:
    return protocol.encode(protocol.request(request_id, method, params))


def decoded(data: bytes) -> dict[str, Any]:
    [message] = protocol.LineDecoder().feed(data)
    assert isinstance(message, dict)
    return message


def sent(step: Any) -> dict[str, Any]:
    assert isinstance(step, Send), step
    return decoded(step.data)


def test_greeting_tells_the_client_whether_it_may_control() -> None:
    hello = decoded(
        Session(can_control=False, max_held=100).greeting(instance="sn", core_version="1")
    )
    assert hello == {
        "type": "hello",
        "protocol": 1,
        "core_version": "1",
        "instance": "sn",
        "can_control": False,
    }


def test_requests_become_steps_in_order_whatever_the_pieces() -> None:
    session = Session(can_control=True, max_held=100)
    stream = (
        ask(1, "status") + b"{oops\n" + ask(2, "set_updates", enabled=False) + ask(3, "subscribe")
    )
    steps = (
        session.receive(stream[:7]) + session.receive(stream[7:40]) + session.receive(stream[40:])
    )
    assert [type(step) for step in steps] == [Call, Send, Call, Subscribe]
    first, bad, toggle, subscribe = steps
    assert isinstance(first, Call) and first.request.method == "status"
    assert sent(bad)["id"] is None and sent(bad)["error"]["code"] == "bad_request"
    assert isinstance(toggle, Call) and dict(toggle.request.params) == {"enabled": False}
    assert isinstance(subscribe, Subscribe) and subscribe.request.id == 3


def test_read_only_client_is_refused_changes_but_may_read() -> None:
    session = Session(can_control=False, max_held=100)
    refused, status, tail = session.receive(
        ask(1, "restart_node") + ask(2, "status") + ask(3, "logs_tail", lines=5)
    )
    answer = sent(refused)
    assert (answer["id"], answer["ok"], answer["error"]["code"]) == (1, False, "forbidden")
    assert answer["error"]["message"].startswith("restart_node: not allowed")
    assert isinstance(status, Call) and isinstance(tail, Call)


def test_unknown_methods_and_bad_params_are_answered_with_their_codes() -> None:
    session = Session(can_control=True, max_held=100)
    unknown, bad = session.receive(ask(4, "reboot") + ask(5, "logs_tail", lines=-1))
    assert (sent(unknown)["id"], sent(unknown)["error"]["code"]) == (4, "unknown_method")
    assert (sent(bad)["id"], sent(bad)["error"]["code"]) == (5, "bad_request")
    assert "'lines'" in sent(bad)["error"]["message"]


def test_answers_carry_the_result_or_say_failed_or_internal() -> None:
    session = Session(can_control=True, max_held=100)
    [step] = session.receive(ask(7, "check_now"))
    assert isinstance(step, Call)
    assert decoded(session.answer(step.request, {"action": "none"}))["result"] == {"action": "none"}
    failed = decoded(session.failure(step.request, OperationFailed("source unreachable")))
    assert failed["error"] == {"code": "failed", "message": "source unreachable"}
    bug = decoded(session.failure(step.request, KeyError("x")))["error"]
    assert bug["code"] == "internal"
    assert bug["message"] == "check_now: internal error (KeyError: 'x'); see the core's log"


def test_log_tail_is_trimmed_to_the_newest_lines_that_fit_one_response() -> None:
    session = Session(can_control=False, max_held=100)
    [step] = session.receive(ask(8, "logs_tail", lines=10_000))
    assert isinstance(step, Call)
    lines = [f"{number:05d} " + "x" * 100 for number in range(2000)]
    data = session.answer(step.request, lines)
    assert len(data) <= protocol.MAX_LINE + 1
    result = decoded(data)["result"]
    assert result == lines[-len(result) :] and 500 < len(result) < 2000


def test_events_reach_only_subscribers_and_none_falls_before_the_snapshot() -> None:
    session = Session(can_control=False, max_held=10_000)
    assert session.event(b"early\n") is None
    [step] = session.receive(ask(9, "subscribe"))
    assert isinstance(step, Subscribe)
    session.hold_events()
    assert session.event(b"during-1\n") is None
    assert session.event(b"during-2\n") is None
    snapshot, response, *held = session.subscribed(step.request, {"node": {}}, TIME)
    assert decoded(snapshot) == {
        "type": "event",
        "event": "status",
        "time": TIME,
        "data": {"node": {}},
    }
    assert decoded(response) == {
        "type": "response",
        "id": 9,
        "ok": True,
        "result": {"subscribed": True},
    }
    assert held == [b"during-1\n", b"during-2\n"]
    assert session.is_subscribed
    assert session.event(b"after\n") == b"after\n"


def test_too_many_events_held_during_a_snapshot_mark_the_session_overflowed() -> None:
    session = Session(can_control=False, max_held=100)
    session.hold_events()
    session.event(b"x" * 60)
    assert not session.overflowed
    session.event(b"x" * 60)
    assert session.overflowed


def test_a_failed_snapshot_drops_held_events_and_names_the_cause() -> None:
    session = Session(can_control=False, max_held=1000)
    [step] = session.receive(ask(3, "subscribe"))
    assert isinstance(step, Subscribe)
    session.hold_events()
    session.event(b"held\n")
    answer = decoded(session.subscribe_failed(step.request, OperationFailed("state unreadable")))
    assert answer["error"] == {"code": "failed", "message": "subscribe: state unreadable"}
    assert session.event(b"later\n") is None and not session.is_subscribed


def test_subscribing_again_keeps_events_flowing_live() -> None:
    session = Session(can_control=False, max_held=1000)
    [first, second] = session.receive(ask(1, "subscribe") + ask(2, "subscribe"))
    assert isinstance(first, Subscribe) and isinstance(second, Subscribe)
    session.hold_events()
    session.subscribed(first.request, {}, TIME)
    session.hold_events()
    assert session.event(b"live\n") == b"live\n"
    snapshot, response = session.subscribed(second.request, {}, TIME)
    assert decoded(snapshot)["event"] == "status"
    assert decoded(response)["id"] == 2


@given(st.binary(max_size=3000))
def test_any_bytes_give_steps_never_exceptions(data: bytes) -> None:
    session = Session(can_control=False, max_held=100)
    for step in session.receive(data + b"\n"):
        if isinstance(step, Send):
            message = decoded(step.data)
            assert message["ok"] is False and message["error"]["code"] in protocol.ERROR_CODES
        else:
            assert not step.request.changes_state


def test_fit_lines_keeps_everything_that_fits() -> None:
    assert fit_lines(1, ["a", "b"]) == ["a", "b"]
    assert fit_lines(1, []) == []
