"""Webhook notifications for headless operators (``[notify] webhook_url``).

Every event is POSTed as one JSON object (the same object the control
socket pushes to subscribers). Delivery runs in its own thread behind a
bounded queue: a slow or dead webhook never delays the core, and when the
queue is full the oldest undelivered events are dropped and counted.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Any

from nodekeeper.core.events import Event
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
    ) -> None:
        self._url = url
        self._instance = instance
        self._timeout = timeout
        self._queue: queue.Queue[Event | None] = queue.Queue(QUEUE_SIZE)
        self._thread = threading.Thread(target=self._deliver_forever, name="webhook", daemon=True)
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
        return {**event.to_json(), "instance": self._instance}

    def _deliver_forever(self) -> None:
        while (event := self._queue.get()) is not None:
            self._deliver(event)

    def _deliver(self, event: Event) -> None:
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            if delay:
                time.sleep(delay)
            body = json.dumps(self.payload(event)).encode()
            request = Request(
                "POST",
                self._url,
                Timeout(self._timeout, self._timeout),
                {"Content-Type": "application/json"},
                body,
            )
            try:
                with self._transport.handle_request(request) as response:
                    status = response.status_code
                if status < 500:
                    if status >= 400:
                        _log.warning("webhook refused %s: HTTP %d", event.kind, status)
                    else:
                        self.delivered += 1
                    return
                problem = f"HTTP {status}"
            except TransportError as exc:
                problem = type(exc).__name__
            _log.info(
                "webhook delivery of %s failed (%s), attempt %d", event.kind, problem, attempt + 1
            )
        _log.warning("webhook: gave up on %s after %d attempts", event.kind, len(RETRY_DELAYS) + 1)
