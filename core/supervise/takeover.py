"""Taking over the node a previous core left running, instead of stopping it.

A core that was replaced by a newer one (self-update), or that crashed and
was started again, finds the node through the pid file. Where the node
still runs, is the version the core would start, and its output pipes can
be opened again (Linux, core/platform/pipes.py), the core takes it over:
same process, same pipes, no restart. Otherwise the old rule holds and the
node is stopped before a new one starts (core/supervise/stopping.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping

from nodekeeper.core.platform import pipes as node_pipes
from nodekeeper.core.platform.base import Platform
from nodekeeper.core.supervise.pidfile import NodeRecord, PidFile, same_process
from nodekeeper.core.supervise.process import NodeRun
from nodekeeper.core.supervise.spawn import StdioSource

_log = logging.getLogger("nodekeeper.core.supervise.supervisor")


def take_over(
    platform: Platform,
    pidfile: PidFile,
    stdio: StdioSource | None,
    *,
    version: str | None,
    partials: Mapping[int, bytes],
    now: float,
) -> NodeRun | None:
    """The previous core's node as this core's run, or None when it must be stopped instead.

    ``version`` is the version this core would start (None: unknown, any will do);
    ``partials`` are the partial lines a handing-over core held, by pipe inode.
    """
    record = pidfile.read_record()
    if record is None or not record.pipes or stdio is None:
        return None
    if platform.status(record.ident.pid) == "zombie":
        return None  # it ended meanwhile: stopping the previous node collects it
    live = platform.identity(record.ident.pid)
    if not same_process(record.ident, live):
        return None
    if version is not None and record.version is not None and record.version != version:
        _log.warning(
            "the node left running (pid %d) is version %s, not %s: stopping it",
            record.ident.pid,
            record.version,
            version,
        )
        return None
    opened = _reopen_all(record)
    if opened is None:
        _log.warning(
            "cannot open the output pipes of the node left running (pid %d): stopping it",
            record.ident.pid,
        )
        return None
    try:
        stdio.adopt_pipes([(pipe.stream, fd, partials.get(pipe.inode, b"")) for pipe, fd in opened])
    except BaseException:
        _close_all(opened)
        raise
    started_at = now
    if record.started is not None:  # keep the uptime the previous core showed
        started_at = now - max(0.0, time.time() - record.started)
    exited = asyncio.ensure_future(platform.wait_taken_over(record.ident))
    return NodeRun(
        record.ident,
        record.version,
        started_at,
        exited,
        pipes=record.pipes,
        adopted=True,
    )


def _reopen_all(record: NodeRecord) -> list[tuple[node_pipes.PipeRecord, int]] | None:
    opened: list[tuple[node_pipes.PipeRecord, int]] = []
    for pipe in record.pipes:
        fd = node_pipes.reopen(record.ident.pid, pipe)
        if fd is None:
            _close_all(opened)
            return None
        opened.append((pipe, fd))
    return opened


def _close_all(opened: list[tuple[node_pipes.PipeRecord, int]]) -> None:
    for _, fd in opened:
        with contextlib.suppress(OSError):
            os.close(fd)
