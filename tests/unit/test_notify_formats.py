"""What notifications say: one sentence per event kind, no tokens in what logs show."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.events import EVENT_KINDS, Event
from nodekeeper.core.notify_formats import FORMATS, describe, redacted, render, summary

SAMPLE_DATA = {
    "node-exited": {"code": 1, "signal": None, "reason": "crashed", "requested": False},
    "node-unhealthy": {"pid": 1, "detail": "HTTP 500", "failures": 3},
    "crash-loop": {"exits": 10, "window_s": 600.0},
    "update-available": {"version": "1.3.0", "current": "1.2.0", "reason": "off"},
    "update-installed": {"version": "1.3.0", "previous": "1.2.0", "action": "update"},
    "update-failed": {"step": "download", "version": "1.3.0", "reason": "hash mismatch"},
    "rolled-back": {"from": "1.3.0", "to": "1.2.0", "reason": "smoke test failed"},
    "updates-toggled": {"enabled": False},
    "disk-low": {"dir": "/var/lib/nk", "reason": "120 MiB free"},
    "logs-dropped": {"lines": 12, "reason": "disk full"},
    "core-updated": {"from": None, "to": "0.3.0"},
    "core-rolled-back": {
        "version": "0.3.0",
        "reason": "the new core stopped before it was committed",
    },
}
QUIET = {"node-started", "update-started", "update-progress"}


@pytest.mark.parametrize("kind", sorted(EVENT_KINDS - QUIET))
def test_every_kind_worth_reading_is_one_sentence(kind: str) -> None:
    note = describe(Event(kind, SAMPLE_DATA[kind]), "sn1")
    assert note is not None and note.instance == "sn1"
    assert note.message.endswith(".") and "\n" not in note.message
    assert "None" not in note.message


@pytest.mark.parametrize("kind", sorted(QUIET))
def test_routine_events_are_not_chat_messages_but_still_summarised(kind: str) -> None:
    assert describe(Event(kind, {}), "sn1") is None
    assert summary(Event(kind, {}), "sn1").message


def test_an_exit_the_operator_asked_for_is_not_reported() -> None:
    event = Event("node-exited", {"code": 0, "reason": "requested", "requested": True})
    assert describe(event, "sn1") is None


def test_a_long_reason_is_cut_to_fit_every_service() -> None:
    event = Event("update-failed", {"step": "x", "version": "1", "reason": "a" * 10000})
    note = describe(event, "sn1")
    assert note is not None
    body = json.loads(render("discord", note, "host").body)
    assert len(body["content"]) <= 2000 and len(body["embeds"][0]["description"]) <= 4096


def test_the_json_format_keeps_the_contract_object_and_adds_who_and_what() -> None:
    event = Event("crash-loop", SAMPLE_DATA["crash-loop"])
    body = json.loads(render("json", summary(event, "sn1"), "host", event=event).body)
    assert body["event"] == "crash-loop" and body["type"] == "event" and body["time"]
    assert body["instance"] == "sn1" and body["hostname"] == "host"
    assert "crashed 10 times" in body["message"]


@pytest.mark.parametrize(
    "url",
    [
        "https://discord.com/api/webhooks/123/TOKEN",
        "https://api.telegram.org/botTOKEN/sendMessage",
        "https://push.example.org:8443/message?token=TOKEN",
        "https://user:TOKEN@ntfy.example.org/topic",
    ],
)
def test_redacted_urls_keep_only_the_host(url: str) -> None:
    shown = redacted(url)
    assert "TOKEN" not in shown and shown.startswith("https://")


@given(reason=st.text(max_size=3000), fmt=st.sampled_from(FORMATS))
def test_any_reason_renders_within_limits_without_markup_escaping_out(
    reason: str, fmt: str
) -> None:
    event = Event("update-failed", {"step": "verify", "version": "1.3.0", "reason": reason})
    note = describe(event, "sn1")
    assert note is not None
    out = render(fmt, note, "host", chat_id="42", event=event)
    if fmt == "ntfy":
        out.headers["Title"].encode("latin-1")
        assert "\n" not in out.body.decode()
        return
    body = json.loads(out.body)
    if fmt == "slack":
        section = body["blocks"][0]["text"]["text"]
        assert "<" not in section and ">" not in section and len(section) <= 3000
    if fmt == "discord":
        assert len(body["content"]) <= 2000 and body["allowed_mentions"] == {"parse": []}
    if fmt == "telegram":
        assert 0 < len(body["text"]) <= 4096


def test_escaping_never_pushes_a_slack_section_over_its_limit() -> None:
    event = Event("update-failed", {"step": "x", "version": "1", "reason": "<&>" * 1000})
    note = describe(event, "sn1")
    assert note is not None
    text = json.loads(render("slack", note, "host").body)["blocks"][0]["text"]["text"]
    assert len(text) <= 3000 and "<" not in text


def test_switching_the_cores_own_updates_says_so() -> None:
    note = describe(Event("updates-toggled", {"enabled": False, "part": "core"}), "sn1")
    assert note is not None
    assert note.message == "Automatic updates of nodekeeper itself were switched off."
    node = describe(Event("updates-toggled", {"enabled": True}), "sn1")
    assert node is not None and node.message == "Automatic updates were switched on."


def test_a_node_taken_over_by_a_new_core_is_said_so() -> None:
    event = Event("node-started", {"pid": 42, "version": "1.2.0", "adopted": True})
    assert summary(event, "sn1").message == (
        "The core took over the running node (pid 42, version 1.2.0)."
    )
