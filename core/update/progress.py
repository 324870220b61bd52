"""Download progress: what ``status`` shows and when ``update-progress`` is sent.

Called from the download thread for every chunk; it publishes only every
:data:`STEPS`-th of the file (and at the end) so subscribers are not
flooded. No I/O here: ``publish`` is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

STEPS = 20  # publish update-progress at every 5 % of the file


class DownloadProgress:
    def __init__(self, version: str, publish: Callable[[dict[str, Any]], None]) -> None:
        self.version = version
        self.done = 0
        self.total = 0
        self._publish = publish
        self._last_step = -1

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        # Integer steps: float shares would drift (0.15 - 0.1 < 0.05).
        step = done * STEPS // total if total else 0
        if step > self._last_step or done == total:
            self._last_step = step
            self._publish({"version": self.version, "bytes": done, "total": total})
