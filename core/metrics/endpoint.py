"""The HTTP endpoint Prometheus scrapes (prometheus-client's own server).

It runs in prometheus-client's daemon thread; a scrape reads the status
under the GIL like the status-file writer does and never waits for the
event loop, so a stuck node or updater cannot stall it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, disable_created_metrics, start_http_server

from nodekeeper.core.errors import ConfigError
from nodekeeper.core.metrics.collector import StatusCollector
from nodekeeper.core.metrics.recorder import EventRecorder


def split_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9101"`` → ``("127.0.0.1", 9101)``; ``"[::1]:9101"`` → ``("::1", 9101)``."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def new_recorder(instance: str) -> EventRecorder:
    # *_created series double every counter and no alert or panel reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    # A registry of its own: the default one carries series without an instance label.
    return EventRecorder(instance, CollectorRegistry())


class MetricsEndpoint:
    def __init__(self, close: Callable[[], None], port: int) -> None:
        self._close = close
        self.port = port

    @classmethod
    def start(
        cls,
        listen: str,
        recorder: EventRecorder,
        status: Callable[[], Mapping[str, Any]],
        data_dir: Path,
        source: Path,
        log_lines: Callable[[], int] | None = None,
    ) -> MetricsEndpoint:
        registry = recorder.registry
        registry.register(StatusCollector(status, data_dir, recorder, log_lines))
        host, port = split_listen(listen)
        try:
            server, thread = start_http_server(port, host, registry)
        except OSError as exc:
            raise ConfigError(
                f"{source}: metrics.listen: cannot listen on {listen}: {exc.strerror or exc}"
            ) from None

        def close() -> None:
            server.shutdown()
            server.server_close()
            thread.join(5.0)

        return cls(close, server.server_address[1])

    def close(self) -> None:
        self._close()
