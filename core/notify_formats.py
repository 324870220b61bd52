"""What a notification says and how each chat service wants it (pure: no I/O, no clock).

:func:`describe` turns an event into a :class:`Notification` a person reads
(a title and one sentence), or None when the event is not worth a message.
:func:`render` writes one for a service, in the shape that service
documents: Discord ``content``/``embeds``, Slack ``text``/``blocks``,
Telegram ``sendMessage`` ``chat_id``/``text``, ntfy a plain body with
``Title``/``Priority`` headers, Gotify ``title``/``message``/``priority``,
and generic JSON (the event object). Every message names the host and the
instance. Values from events (reasons, versions) are escaped or sent as
plain text so that they can never ping a channel or break the markup.
:func:`redacted` is what logs may show of a webhook URL: never its token.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FORMATS", "Outgoing", "describe", "redacted", "render", "summary"]

from nodekeeper.core.config.schema import NOTIFY_FORMATS as FORMATS
from nodekeeper.core.events import Event
from nodekeeper.core.throttle import Notification

# Discord caps content at 2000 characters, Telegram text at 4096, Slack a
# section's text at 3000: one sentence stays far below, a long reason is cut.
MAX_SENTENCE = 1500
# Severity 0 (info), 1 (warning), 2 (critical). Discord embed colours: blue, amber, red.
DISCORD_COLOURS = {0: 0x3B82F6, 1: 0xF59E0B, 2: 0xDC2626}
# ntfy priorities 1-5 (3 is default), Gotify 0-10.
NTFY_PRIORITY = {0: "3", 1: "4", 2: "5"}
GOTIFY_PRIORITY = {0: 4, 1: 6, 2: 8}


@dataclass(frozen=True)
class Outgoing:
    """One HTTP POST body and its headers."""

    headers: Mapping[str, str]
    body: bytes


def _cut(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_SENTENCE else text[: MAX_SENTENCE - 1] + "…"


KIND_SEVERITY = {
    "node-exited": 1,
    "node-unhealthy": 1,
    "crash-loop": 2,
    "update-available": 0,
    "update-installed": 0,
    "update-failed": 1,
    "rolled-back": 2,
    "updates-toggled": 0,
    "disk-low": 1,
    "logs-dropped": 1,
    "core-updated": 0,
    "core-rolled-back": 1,
}


def describe(event: Event, instance: str) -> Notification | None:
    """What a person reads about ``event``, or None when nobody needs to read it."""
    d = event.data
    kind = event.kind
    said: tuple[str, str] | None = None
    if kind == "node-exited" and not d.get("requested"):
        how = f"killed by {d['signal']}" if d.get("signal") else f"exit code {d.get('code')}"
        if d.get("code") is None and not d.get("signal"):
            how = str(d.get("message") or d.get("reason"))
        said = (
            "Node exited",
            f"The node stopped unexpectedly ({how}) and is restarted.",
        )
    elif kind == "node-unhealthy":
        said = (
            "Node unhealthy",
            f"The node failed {d.get('failures')} health checks in a row "
            f"({d.get('detail')}) and is restarted.",
        )
    elif kind == "crash-loop":
        said = (
            "Node crash-looping",
            f"The node crashed {d.get('exits')} times within {d.get('window_s')} s "
            "and is now retried only at the longest delay.",
        )
    elif kind == "update-available":
        said = (
            "Update available",
            f"Version {d.get('version')} is available (running {d.get('current')}) "
            "but automatic updates are off.",
        )
    elif kind == "update-installed":
        said = (
            "Node updated",
            f"The node now runs version {d.get('version')} (was {d.get('previous')}).",
        )
    elif kind == "update-failed":
        said = (
            "Update failed",
            f"The update {d.get('step')} of version {d.get('version')} failed: {d.get('reason')}.",
        )
    elif kind == "rolled-back":
        said = (
            "Update rolled back",
            f"Version {d.get('from')} was rolled back to {d.get('to')}: {d.get('reason')}.",
        )
    elif kind == "updates-toggled":
        state = "on" if d.get("enabled") else "off"
        of = " of nodekeeper itself" if d.get("part") == "core" else ""
        said = ("Updates switched " + state, f"Automatic updates{of} were switched {state}.")
    elif kind == "disk-low":
        said = (
            "Disk space low",
            f"Disk space is low in {d.get('dir')}: {d.get('reason')}.",
        )
    elif kind == "logs-dropped":
        said = (
            "Log lines dropped",
            f"{d.get('lines')} node log lines were dropped: {d.get('reason')}.",
        )
    elif kind == "core-updated":
        said = (
            "nodekeeper updated",
            f"nodekeeper updated itself to {d.get('to')} (was {d.get('from') or 'the packaged core'}); "
            "the node kept running.",
        )
    elif kind == "core-rolled-back":
        said = (
            "nodekeeper update rolled back",
            f"nodekeeper {d.get('version')} was rolled back and quarantined: {d.get('reason')}.",
        )
    if said is None:
        return None
    title, sentence = said
    return Notification(kind, title, _cut(sentence), instance)


def summary(event: Event, instance: str) -> Notification:
    """Like :func:`describe`, for every event: the JSON format's ``message``."""
    note = describe(event, instance)
    if note is not None:
        return note
    d = event.data
    if event.kind == "node-started" and d.get("adopted"):
        sentence = (
            f"The core took over the running node (pid {d.get('pid')}, version {d.get('version')})."
        )
    elif event.kind == "node-started":
        sentence = f"The node started (pid {d.get('pid')}, version {d.get('version')})."
    elif event.kind == "update-started":
        sentence = f"The update from version {d.get('from')} to {d.get('to')} started."
    elif event.kind == "node-exited":
        sentence = f"The node stopped as asked ({d.get('reason')})."
    else:
        sentence = f"{event.kind.replace('-', ' ').capitalize()}."
    return Notification(event.kind, event.kind, _cut(sentence), instance)


def _json(data: Mapping[str, Any]) -> Outgoing:
    return Outgoing({"Content-Type": "application/json"}, json.dumps(data).encode())


def _slack_escape(text: str) -> str:
    # Slack reads & < > as markup (<!channel> pings everyone).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(
    fmt: str,
    note: Notification,
    hostname: str,
    *,
    chat_id: str | None = None,
    event: Event | None = None,
) -> Outgoing:
    """``note`` as ``fmt`` wants it; ``event`` is the JSON format's body."""
    level = KIND_SEVERITY.get(note.kind, 0)
    where = f"{hostname} · {note.instance}"
    line = f"{hostname} {note.instance}: {note.text}"
    if fmt == "discord":
        return _json(
            {
                "content": f"**{note.title}** on {where}: {note.text}"[:2000],
                "embeds": [
                    {
                        "title": note.title,
                        "description": note.text,
                        "color": DISCORD_COLOURS[level],
                        "fields": [
                            {"name": "host", "value": hostname, "inline": True},
                            {"name": "instance", "value": note.instance, "inline": True},
                        ],
                    }
                ],
                # Event text must never ping @everyone or a role.
                "allowed_mentions": {"parse": []},
            }
        )
    if fmt == "slack":
        text = (
            f"*{_slack_escape(note.title)}* on {_slack_escape(where)}: {_slack_escape(note.text)}"
        )
        # Escaping can grow the text; Slack refuses a section over 3000 characters.
        if len(text) > 3000:
            text = text[:2999].rsplit("&", 1)[0] + "…"
        return _json(
            {
                "text": text,
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                    {
                        "type": "context",
                        "elements": [{"type": "mrkdwn", "text": _slack_escape(where)}],
                    },
                ],
            }
        )
    if fmt == "telegram":
        # No parse_mode: the text is shown as written, nothing in it is markup.
        return _json(
            {"chat_id": chat_id, "text": f"{note.title}: {line}", "disable_web_page_preview": True}
        )
    if fmt == "ntfy":
        title = f"{note.title} ({hostname} {note.instance})"
        return Outgoing(
            {
                "Content-Type": "text/plain; charset=utf-8",
                # Header values must be Latin-1: anything else is replaced.
                "Title": title.encode("latin-1", "replace").decode("latin-1"),
                "Priority": NTFY_PRIORITY[level],
                "Tags": "nodekeeper," + note.kind,
            },
            line.encode(),
        )
    if fmt == "gotify":
        return _json(
            {
                "title": f"{note.title} ({hostname} {note.instance})",
                "message": line,
                "priority": GOTIFY_PRIORITY[level],
            }
        )
    # Generic JSON: the event object as the contract shows it, plus who and what.
    base = event.to_json() if event is not None else {"type": "event", "event": note.kind}
    return _json({**base, "instance": note.instance, "hostname": hostname, "message": line})


def redacted(url: str) -> str:
    """``url`` as logs may show it: scheme and host only (paths and queries hold tokens)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"
