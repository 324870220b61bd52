"""The control-socket protocol (docs/contract.md, Control socket): framing and validation, no I/O.

Every message is one UTF-8 JSON object on one line of at most
:data:`MAX_LINE` bytes (newline excluded). This module turns messages into
bytes (:func:`encode`), bytes into messages (:class:`LineDecoder`, fed
whatever arrives, in any pieces), checks requests (:func:`parse_request`)
and builds the server's messages; which methods exist and what they
accept is the table in :mod:`nodekeeper.core.ipc.methods`. It never
touches a socket, a clock or the event bus: the server, the client
library and the tray drive it.

A bad line is never fatal to a connection: the decoder reports it as a
:class:`LineError` and carries on with the next line; an over-long line
is skipped without being buffered, whatever its length.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nodekeeper.core.ipc.methods import METHODS, Method, ParamError

PROTOCOL_VERSION = 1
MAX_LINE = 64 * 1024

# Error codes: the first four are the contract; "failed" is an operation the
# core tried and could not do (e.g. a check that found no network).
BAD_REQUEST = "bad_request"
UNKNOWN_METHOD = "unknown_method"
FORBIDDEN = "forbidden"
INTERNAL = "internal"
FAILED = "failed"
ERROR_CODES = frozenset({BAD_REQUEST, UNKNOWN_METHOD, FORBIDDEN, INTERNAL, FAILED})

# The first message after a subscribe request: an event-shaped full status.
SNAPSHOT_EVENT = "status"

MESSAGE_TYPES = frozenset({"hello", "request", "response", "event"})


class ProtocolError(ValueError):
    """A message that breaks the protocol; ``code`` is the error code to answer with."""

    def __init__(
        self, message: str, code: str = BAD_REQUEST, request_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id


@dataclass(frozen=True)
class LineError:
    """A line that could not be decoded; the stream goes on after it."""

    message: str


@dataclass(frozen=True)
class Request:
    id: int
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> Method:
        """The method's entry in the table of :mod:`nodekeeper.core.ipc.methods`."""
        return METHODS[self.method]

    @property
    def changes_state(self) -> bool:
        return self.spec.changes_state


# -- encoding ------------------------------------------------------------------


def encode(message: Mapping[str, Any]) -> bytes:
    """One message as one line of bytes, newline included.

    Raises :class:`ProtocolError` if the message cannot be sent (not JSON,
    NaN, or longer than :data:`MAX_LINE`): a sender's bug, never the peer's.
    """
    try:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"message cannot be encoded as JSON: {exc}", INTERNAL) from None
    data = text.encode("utf-8")
    if len(data) > MAX_LINE:
        raise ProtocolError(f"message is {len(data)} bytes, more than {MAX_LINE}", INTERNAL)
    return data + b"\n"


def hello(*, instance: str, core_version: str, can_control: bool) -> dict[str, Any]:
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "core_version": core_version,
        "instance": instance,
        "can_control": can_control,
    }


def request(
    request_id: int, method: str, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "request", "id": request_id, "method": method}
    if params:
        message["params"] = dict(params)
    return message


def response(request_id: int, result: Any) -> dict[str, Any]:
    return {"type": "response", "id": request_id, "ok": True, "result": result}


def error(request_id: int | None, code: str, message: str) -> dict[str, Any]:
    """An error response; ``request_id`` is None when the line had no usable id."""
    if code not in ERROR_CODES:
        raise ValueError(f"unknown error code {code!r}")
    return {
        "type": "response",
        "id": request_id,
        "ok": False,
        "error": {"code": code, "message": one_line(message)},
    }


def event(kind: str, time: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "event", "event": kind, "time": time, "data": dict(data)}


def one_line(text: str, limit: int = 1000) -> str:
    """Collapse whitespace so an error message stays one readable line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- decoding ------------------------------------------------------------------


class LineDecoder:
    """Incremental line splitter and JSON decoder.

    ``feed(data)`` returns, in order, a ``dict`` for each complete good line
    and a :class:`LineError` for each bad one. At most :data:`MAX_LINE`
    bytes of a partial line are held; the rest of an over-long line is
    discarded as it arrives. Blank lines are ignored.
    """

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._skipping = False  # inside an over-long line, waiting for its end

    @property
    def pending(self) -> int:
        """Bytes of an incomplete line held right now."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[dict[str, Any] | LineError]:
        out: list[dict[str, Any] | LineError] = []
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            if self._skipping:
                if end >= 0:
                    self._skipping = False
            elif len(self._buffer) + len(piece) > self.limit:
                self._buffer.clear()
                out.append(LineError(f"line longer than {self.limit} bytes"))
                self._skipping = end < 0
            else:
                self._buffer += piece
                if end >= 0:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    if line.strip():
                        out.append(decode_line(line))
            if end < 0:
                break
            start = end + 1
        return out


def decode_line(line: bytes) -> dict[str, Any] | LineError:
    """One line (without its newline) as a message object, or what is wrong with it."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return LineError(f"line is not UTF-8 (bad byte at offset {exc.start})")
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        return LineError("line is nested too deeply")
    except ValueError as exc:
        return LineError(f"line is not JSON ({one_line(str(exc), 120)})")
    if not isinstance(message, dict):
        return LineError(f"message is a JSON {type(message).__name__}, not an object")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        return LineError(f"message has no valid 'type' (got {_short(kind)})")
    return message


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


# -- validation ----------------------------------------------------------------


def parse_request(message: Mapping[str, Any]) -> Request:
    """Check a decoded message from a client; raise :class:`ProtocolError` if it is not a good request."""
    raw_id = message.get("id")
    request_id = raw_id if _is_id(raw_id) else None
    if message.get("type") != "request":
        raise ProtocolError(
            f"clients send requests, not {_short(message.get('type'))}", BAD_REQUEST, request_id
        )
    if request_id is None:
        raise ProtocolError(
            f"request needs an integer 'id' (got {_short(raw_id)})", BAD_REQUEST, None
        )
    method = message.get("method")
    if not isinstance(method, str):
        raise ProtocolError(
            f"request needs a string 'method' (got {_short(method)})", BAD_REQUEST, request_id
        )
    if method not in METHODS:
        raise ProtocolError(f"unknown method {_short(method)}", UNKNOWN_METHOD, request_id)
    unknown = sorted(set(message) - {"type", "id", "method", "params"})
    if unknown:
        raise ProtocolError(f"unknown request field {_short(unknown[0])}", BAD_REQUEST, request_id)
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError("'params' must be an object", BAD_REQUEST, request_id)
    return Request(request_id, method, _check_params(method, params, request_id))


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _check_params(method: str, params: Mapping[str, Any], request_id: int) -> dict[str, Any]:
    try:
        return METHODS[method].check_params(params)
    except ParamError as exc:
        raise ProtocolError(f"{method}: {exc}", BAD_REQUEST, request_id) from None


# -- what a client checks ------------------------------------------------------


def parse_hello(message: Mapping[str, Any]) -> dict[str, Any]:
    """Check the server's greeting; raise :class:`ProtocolError` if it is not one we can talk to."""
    if message.get("type") != "hello":
        raise ProtocolError(f"expected hello from the core, got {_short(message.get('type'))}")
    if message.get("protocol") != PROTOCOL_VERSION:
        raise ProtocolError(
            f"core speaks protocol {_short(message.get('protocol'))}, this client speaks {PROTOCOL_VERSION}"
        )
    if not isinstance(message.get("can_control"), bool):
        raise ProtocolError("hello without a boolean 'can_control'")
    for key in ("instance", "core_version"):
        if not isinstance(message.get(key), str):
            raise ProtocolError(f"hello without a string {key!r}")
    return dict(message)


def parse_response(message: Mapping[str, Any]) -> tuple[int | None, bool, Any]:
    """``(id, ok, result)`` of a response; for errors ``result`` is ``(code, message)``."""
    if message.get("type") != "response":
        raise ProtocolError(f"expected a response, got {_short(message.get('type'))}")
    raw_id = message.get("id")
    if raw_id is not None and not _is_id(raw_id):
        raise ProtocolError(f"response with a bad id {_short(raw_id)}")
    ok = message.get("ok")
    if ok is True:
        if "result" not in message:
            raise ProtocolError("response without a result")
        return raw_id, True, message["result"]
    if ok is not False:
        raise ProtocolError("response without a boolean 'ok'")
    err = message.get("error")
    if not isinstance(err, dict) or not isinstance(err.get("code"), str):
        raise ProtocolError("error response without an error code")
    text = err.get("message")
    return raw_id, False, (err["code"], text if isinstance(text, str) else err["code"])


def parse_event(message: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """``(event, time, data)`` of an event message."""
    kind, time, data = message.get("event"), message.get("time"), message.get("data", {})
    if message.get("type") != "event" or not isinstance(kind, str):
        raise ProtocolError("event without a name")
    if not isinstance(time, str):
        raise ProtocolError(f"event {_short(kind)} without a time")
    if not isinstance(data, dict):
        raise ProtocolError(f"event {_short(kind)} with non-object data")
    return kind, time, data
