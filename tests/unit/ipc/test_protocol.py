"""The control protocol's framing and validation (pure: no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodekeeper.core.ipc import protocol
from nodekeeper.core.ipc.protocol import MAX_LINE, LineDecoder, LineError, ProtocolError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["request", "response", "event", "hello"])},
    optional={"id": st.integers(0, 2**53 - 1), "data": json_values, "method": st.text(max_size=12)},
)


def split_randomly(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return pieces


@given(st.lists(messages, max_size=8), st.lists(st.integers(0, 10_000), max_size=10))
def test_messages_survive_any_split_of_the_stream(
    batch: list[dict[str, Any]], cuts: list[int]
) -> None:
    stream = b"".join(protocol.encode(m) for m in batch)
    decoder = LineDecoder()
    out: list[Any] = []
    for piece in split_randomly(stream, cuts):
        out += decoder.feed(piece)
    assert out == batch
    assert decoder.pending == 0


@given(st.binary(max_size=2000), st.lists(st.integers(0, 5000), max_size=6))
def test_random_bytes_yield_messages_or_line_errors_never_exceptions(
    data: bytes, cuts: list[int]
) -> None:
    decoder = LineDecoder()
    out = []
    for piece in split_randomly(data, cuts):
        out += decoder.feed(piece)
    for item in out:
        assert isinstance(item, (dict, LineError))
        if isinstance(item, dict):
            assert item["type"] in protocol.MESSAGE_TYPES
    complete_lines = [line for line in data.split(b"\n")[:-1] if line.strip()]
    assert len(out) == len(complete_lines)


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_parse_request_accepts_or_rejects_with_a_code(message: dict[str, Any]) -> None:
    message = {"type": "request", **message}
    try:
        request = protocol.parse_request(message)
    except ProtocolError as exc:
        assert exc.code in protocol.ERROR_CODES
        assert "\n" not in str(exc)
    else:
        assert request.method in protocol.METHODS


def test_over_long_line_is_reported_once_and_following_lines_still_decode() -> None:
    decoder = LineDecoder()
    good = protocol.encode(protocol.request(1, "status"))
    out = decoder.feed(b"x" * (MAX_LINE // 2))
    out += decoder.feed(b"x" * MAX_LINE)
    out += decoder.feed(b"y" * (3 * MAX_LINE))
    assert decoder.pending == 0, "an over-long line must not be buffered"
    out += decoder.feed(b"zz\n" + good)
    assert out == [LineError(f"line longer than {MAX_LINE} bytes"), protocol.request(1, "status")]


def test_line_of_exactly_the_limit_is_accepted() -> None:
    padding = MAX_LINE - len(json.dumps({"type": "event", "data": ""}, separators=(",", ":")))
    message = {"type": "event", "data": "a" * padding}
    line = protocol.encode(message)
    assert len(line) == MAX_LINE + 1
    assert LineDecoder().feed(line) == [message]
    with pytest.raises(ProtocolError):
        protocol.encode({"type": "event", "data": "a" * (padding + 1)})


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON list, not an object"),
        (b'{"id": 1}', "no valid 'type'"),
        (b'{"type": "gossip"}', "no valid 'type'"),
        (b'{"type": "request", "x": NaN}', "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_bad_lines_name_their_problem(line: bytes, problem: str) -> None:
    decoder = LineDecoder(limit=1_000_000)
    [item] = decoder.feed(line + b"\n")
    assert isinstance(item, LineError)
    assert problem in item.message


def test_blank_lines_are_ignored() -> None:
    assert LineDecoder().feed(b"\n  \n\r\n") == []


@pytest.mark.parametrize(
    ("message", "code", "request_id", "words"),
    [
        ({"type": "request", "method": "status"}, "bad_request", None, "integer 'id'"),
        ({"type": "request", "id": True, "method": "status"}, "bad_request", None, "integer 'id'"),
        ({"type": "request", "id": -1, "method": "status"}, "bad_request", None, "integer 'id'"),
        ({"type": "request", "id": 3}, "bad_request", 3, "string 'method'"),
        ({"type": "request", "id": 3, "method": "reboot"}, "unknown_method", 3, "unknown method"),
        ({"type": "response", "id": 3}, "bad_request", 3, "not 'response'"),
        ({"type": "request", "id": 3, "method": "status", "x": 1}, "bad_request", 3, "field 'x'"),
        (
            {"type": "request", "id": 3, "method": "status", "params": []},
            "bad_request",
            3,
            "object",
        ),
        ({"type": "request", "id": 3, "method": "set_updates"}, "bad_request", 3, "true or false"),
        (
            {"type": "request", "id": 3, "method": "set_updates", "params": {"enabled": "no"}},
            "bad_request",
            3,
            "true or false",
        ),
        (
            {"type": "request", "id": 3, "method": "logs_tail", "params": {"lines": -5}},
            "bad_request",
            3,
            "'lines'",
        ),
        (
            {"type": "request", "id": 3, "method": "logs_tail", "params": {"lines": 10**9}},
            "bad_request",
            3,
            "'lines'",
        ),
        (
            {"type": "request", "id": 3, "method": "status", "params": {"verbose": True}},
            "bad_request",
            3,
            "unknown parameter 'verbose'",
        ),
    ],
)
def test_bad_requests_are_refused_with_code_and_id(
    message: dict[str, Any], code: str, request_id: int | None, words: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_request(message)
    assert caught.value.code == code
    assert caught.value.request_id == request_id
    assert words in str(caught.value)


def test_good_requests_carry_checked_params() -> None:
    request = protocol.parse_request(
        {"type": "request", "id": 7, "method": "set_updates", "params": {"enabled": False}}
    )
    assert (request.id, request.method, dict(request.params), request.changes_state) == (
        7,
        "set_updates",
        {"enabled": False},
        True,
    )
    tail = protocol.parse_request({"type": "request", "id": 8, "method": "logs_tail"})
    assert dict(tail.params) == {"lines": 100}
    assert not tail.changes_state
    assert not protocol.parse_request(
        {"type": "request", "id": 9, "method": "subscribe"}
    ).changes_state


def test_read_only_methods_are_exactly_status_logs_and_subscribe() -> None:
    read_only = {name for name, method in protocol.METHODS.items() if not method.changes_state}
    assert read_only == {"status", "logs_tail", "subscribe"}


def test_server_messages_have_the_contract_shape() -> None:
    assert protocol.hello(instance="sn", core_version="0.1.0", can_control=False) == {
        "type": "hello",
        "protocol": 1,
        "core_version": "0.1.0",
        "instance": "sn",
        "can_control": False,
    }
    assert protocol.response(7, {"a": 1}) == {
        "type": "response",
        "id": 7,
        "ok": True,
        "result": {"a": 1},
    }
    assert protocol.error(8, "forbidden", "no\n  way") == {
        "type": "response",
        "id": 8,
        "ok": False,
        "error": {"code": "forbidden", "message": "no way"},
    }
    with pytest.raises(ValueError):
        protocol.error(1, "oops", "x")


def test_client_side_parsers_reject_what_a_core_must_not_send() -> None:
    with pytest.raises(ProtocolError, match="protocol 2"):
        protocol.parse_hello({"type": "hello", "protocol": 2})
    with pytest.raises(ProtocolError, match="can_control"):
        protocol.parse_hello({"type": "hello", "protocol": 1, "instance": "a", "core_version": "1"})
    assert protocol.parse_response({"type": "response", "id": 1, "ok": True, "result": None}) == (
        1,
        True,
        None,
    )
    assert protocol.parse_response(
        {
            "type": "response",
            "id": None,
            "ok": False,
            "error": {"code": "bad_request", "message": "m"},
        }
    ) == (None, False, ("bad_request", "m"))
    with pytest.raises(ProtocolError):
        protocol.parse_response({"type": "response", "id": 1, "ok": "yes"})
    with pytest.raises(ProtocolError):
        protocol.parse_event({"type": "event", "event": "x", "time": "t", "data": [1]})


def test_unencodable_messages_are_refused_before_sending() -> None:
    with pytest.raises(ProtocolError):
        protocol.encode({"type": "event", "data": float("nan")})
    with pytest.raises(ProtocolError):
        protocol.encode({"type": "event", "data": object()})


@settings(max_examples=50)
@given(st.text(min_size=1, max_size=300))
def test_encoded_text_is_one_line(text: str) -> None:
    line = protocol.encode({"type": "event", "data": text})
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
