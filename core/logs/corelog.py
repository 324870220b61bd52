"""The core's own log: Python ``logging`` into ``nodekeeper-<instance>.log``.

The file is written by the same :class:`~nodekeeper.core.logs.writer.LogWriter` as the
node's log, so it rotates, compresses, prunes and drops (counted, with a
marker) under exactly the same rules, and a log call never blocks on the
disk. Records also go to stderr, where service managers (journald,
launchd, the Windows event log via the service wrapper) pick them up.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import sys
import time
from pathlib import Path

from nodekeeper.core.config import LogsConfig
from nodekeeper.core.logs import files
from nodekeeper.core.logs.compress import Compressor, recover
from nodekeeper.core.logs.context import INSTANCE
from nodekeeper.core.logs.files import LogsSettings
from nodekeeper.core.logs.writer import LogWriter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# On stderr, where a process serving several instances writes for all of them.
TAGGED_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(instance_tag)s%(message)s"


class InstanceTag(logging.Filter):
    """Adds ``instance_tag`` ("name: " or "") for TAGGED_FORMAT."""

    def filter(self, record: logging.LogRecord) -> bool:
        instance = INSTANCE.get()
        record.instance_tag = f"{instance}: " if instance else ""
        return True


class _UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = _dt.datetime.fromtimestamp(record.created, _dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z"


class CoreLogHandler(logging.Handler):
    """A logging handler that hands formatted records to a LogWriter (never blocks)."""

    def __init__(self, settings: LogsSettings, instance: str) -> None:
        super().__init__()
        self.setFormatter(_UTCFormatter(FORMAT))
        self._instance = instance
        self.addFilter(self._mine)
        directory = Path(settings.dir)
        prefix = files.core_prefix(instance)
        self._compressor = Compressor(on_done=lambda: _prune_quietly(directory, instance, settings))
        self._writer = LogWriter(settings, instance, prefix, compressor=self._compressor)
        with contextlib.suppress(OSError):
            directory.mkdir(parents=True, exist_ok=True)
        pending = recover(directory, prefix)
        self._compressor.start()
        if settings.compress:
            for path in pending:
                self._compressor.submit(path)
        self._writer.start()

    def _mine(self, record: logging.LogRecord) -> bool:
        owner = INSTANCE.get()
        return owner is None or owner == self._instance

    @property
    def path(self) -> Path:
        return self._writer.path

    @property
    def dropped_lines(self) -> int:
        return self._writer.dropped_lines

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._writer.put(text.encode("utf-8", errors="replace") + b"\n")

    def flush(self, timeout: float = 5.0) -> None:
        self._writer.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        self._writer.close(timeout)
        self._compressor.close(max(0.0, deadline - time.monotonic()))
        super().close()


def _prune_quietly(directory: Path, instance: str, settings: LogsSettings) -> None:
    with contextlib.suppress(OSError):
        files.prune(directory, instance, settings, time.time())


def setup_core_logging(settings: LogsConfig, instance: str) -> logging.Handler:
    """Send the root logger to the core's log file and to stderr; returns the file handler.

    Call once at core start; ``handler.close()`` at shutdown flushes the file.
    """
    root = logging.getLogger()
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    handler = CoreLogHandler(settings, instance)
    root.addHandler(handler)
    has_stderr = any(
        type(h) is logging.StreamHandler and getattr(h, "stream", None) is sys.stderr
        for h in root.handlers
    )
    if not has_stderr:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setFormatter(_UTCFormatter(FORMAT))
        root.addHandler(stderr)
    return handler
