"""Webhook notifications for headless operators (``[notify] webhook_url``).

In the JSON format every event is POSTed as one JSON object (the same
object the control socket pushes to subscribers). In a chat format
(``[notify] format``, core/notify_formats.py) events become one-sentence
messages, rate-limited and coalesced per kind by the same throttle as the
tray's. Delivery runs in its own thread behind a bounded queue: a slow or
dead webhook never delays the core, and when the queue is full the oldest
undelivered events are dropped and counted. The URL holds the service's
token: it is never logged.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from nodekeeper.core.events import Event
from nodekeeper.core.logs.context import in_this_context
from nodekeeper.core.notify_formats import Outgoing, describe, redacted, render, summary
from nodekeeper.core.throttle import Notification, NotificationThrottle
from nodekeeper.core.transport.base import BaseTransport, Request, Timeout, TransportError

_log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
# Progress events are for live views; a webhook would be flooded by them.
SKIPPED_KINDS = frozenset({"update-progress"})
RETRY_DELAYS = (1.0, 5.0, 30.0)


class WebhookNotifier:
    def __init__(
        self,
        url: str,
        instance: str,
        *,
        timeout: float = 10.0,
        transport: BaseTransport | None = None,
        format: str | None = None,
        chat_id: str | None = None,
        hostname: str | None = None,
        throttle: NotificationThrottle | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._instance = instance
        self._format = format or "json"
        self._chat_id = chat_id
        self._hostname = hostname or socket.gethostname()
        # Chat messages only: scripts reading JSON want every event.
        self._throttle = throttle or NotificationThrottle(grace_kinds=frozenset())
        self._clock = clock
        self._timeout = timeout
        self._queue: queue.Queue[Event | None] = queue.Queue(QUEUE_SIZE)
        self._thread = threading.Thread(
            target=in_this_context(self._deliver_forever), name="webhook", daemon=True
        )
        if transport is None:
            # Only cores that notify pay for requests.
            from nodekeeper.core.transport.requests_transport import RequestsTransport

            transport = RequestsTransport()
        self._transport = transport
        self.dropped = 0
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def __call__(self, event: Event) -> None:
        """Event bus subscriber: never blocks."""
        if event.kind in SKIPPED_KINDS:
            return
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def payload(self, event: Event) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self._json(event).body)
        return data

    def _json(self, event: Event) -> Outgoing:
        return render("json", summary(event, self._instance), self._hostname, event=event)

    def _deliver_forever(self) -> None:
        while True:
            wait = None
            due_at = self._throttle.next_due()
            if due_at is not None:
                wait = max(0.0, due_at - self._clock())
            try:
                event = self._queue.get(timeout=wait)
            except queue.Empty:
                pass  # a held message is due
            else:
                if event is None:
                    return
                self._offer(event)
            for note in self._throttle.due(self._clock()):
                self._send(note.kind, self._render(note))

    def _offer(self, event: Event) -> None:
        if self._format == "json":
            self._send(event.kind, self._json(event))
            return
        note = describe(event, self._instance)
        if note is not None and (shown := self._throttle.offer(note, self._clock())) is not None:
            self._send(event.kind, self._render(shown))

    def _render(self, note: Notification) -> Outgoing:
        return render(self._format, note, self._hostname, chat_id=self._chat_id)

    def _send(self, kind: str, outgoing: Outgoing) -> None:
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            if delay:
                time.sleep(delay)
            request = Request(
                "POST",
                self._url,
                Timeout(self._timeout, self._timeout),
                dict(outgoing.headers),
                outgoing.body,
            )
            try:
                with self._transport.handle_request(request) as response:
                    status = response.status_code
                if status < 500:
                    if status >= 400:
                        _log.warning(
                            "webhook %s refused %s: HTTP %d", redacted(self._url), kind, status
                        )
                    else:
                        self.delivered += 1
                    return
                problem = f"HTTP {status}"
            except TransportError as exc:
                problem = type(exc).__name__
            _log.info("webhook delivery of %s failed (%s), attempt %d", kind, problem, attempt + 1)
        _log.warning("webhook: gave up on %s after %d attempts", kind, len(RETRY_DELAYS) + 1)
