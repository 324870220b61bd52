"""Starting one run of the node: its command, environment, limits and output pipes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from nodekeeper.core.config import LimitsConfig, NodeConfig
from nodekeeper.core.platform import pipes as node_pipes
from nodekeeper.core.platform.base import Platform, ProcessIdentity, SpawnRequest
from nodekeeper.core.platform.pipes import NodePipes, PipeRecord
from nodekeeper.core.supervise.process import NodeRun


@dataclass(frozen=True)
class LaunchPlan:
    """What to run: ``node.command`` with ``{binary}`` resolved, and that binary's version."""

    argv: tuple[str, ...]
    version: str | None


class StdioSource(Protocol):
    def open_pipes(self) -> NodePipes:
        """Fresh pipes for the node's stdout and stderr, their readers started."""

    def adopt_pipes(self, pipes: Sequence[tuple[str, int, bytes]]) -> None:
        """Read pipes a previous core read: (stream, read fd, the partial line it held)."""


class StartFailed(Exception):
    """The node could not be started; the message says why, in one line."""


def start_run(
    platform: Platform,
    resolve: Callable[[], LaunchPlan],
    node: NodeConfig,
    limits: LimitsConfig,
    *,
    instance: str,
    stdio: StdioSource | None,
    now: float,
) -> NodeRun:
    """Start the node and begin waiting for its exit; StartFailed when it cannot be started."""
    try:
        plan = resolve()
    except Exception as exc:  # a missing binary must not kill the core
        raise StartFailed(f"cannot resolve the node command: {exc}") from exc
    try:
        popen, pipes, go = spawn_node(platform, plan, node, limits, instance=instance, stdio=stdio)
    except OSError as exc:  # EMFILE, ENOMEM, EACCES, ENOENT, ... from a pipe, fork or exec
        raise StartFailed(f"cannot start {plan.argv[0]}: {exc.strerror or exc}") from exc
    except (
        subprocess.SubprocessError,
        ValueError,
        LookupError,
    ) as exc:  # LookupError: node.user gone
        raise StartFailed(f"cannot start {plan.argv[0]}: {exc}") from exc
    # A process that is already gone again, or one we cannot look at for want
    # of file descriptors, still gets a usable identity (its own group: new session).
    try:
        ident = platform.identity(popen.pid)
    except OSError:
        ident = None
    ident = ident or ProcessIdentity(popen.pid, time.time(), popen.pid)
    exited = asyncio.ensure_future(platform.wait_exit(popen))
    return NodeRun(ident, plan.version, now, exited, pipes=pipes, go=go)


def spawn_node(
    platform: Platform,
    plan: LaunchPlan,
    node: NodeConfig,
    limits: LimitsConfig,
    *,
    instance: str,
    stdio: StdioSource | None,
) -> tuple[subprocess.Popen[bytes], tuple[PipeRecord, ...], Callable[[], None]]:
    """The started node, where a later core finds its pipes (none without ``stdio``), and
    the call that lets it run (it waits until its pid is recorded: :class:`StartBarrier`)."""
    request = SpawnRequest(
        argv=plan.argv,
        env={**node_environment(), **node.env},
        cwd=node.workdir,
        stdout=None,
        stderr=None,
        limits=limits,
        name=instance,
        user=node.user,
        group=node.group,
    )
    stdout_w = stderr_w = None
    records: tuple[PipeRecord, ...] = ()
    if stdio is not None:
        pipes = stdio.open_pipes()
        stdout_w, stderr_w = pipes.stdout_w, pipes.stderr_w
        records = node_pipes.records(pipes)
        request = dataclasses.replace(
            request,
            stdout=stdout_w,
            stderr=stderr_w,
            keep_fds=tuple(record.fd for record in records),
        )
    barrier = StartBarrier.open() if records else None
    if barrier is not None:
        request = dataclasses.replace(request, barrier=barrier.read_fd)
    try:
        popen = platform.spawn(request)
    except BaseException:
        if barrier is not None:
            barrier.close()
        raise
    finally:
        # The node has its own copies; ours would keep the pipes open after it exits.
        for fd in (stdout_w, stderr_w):
            if fd is not None:
                os.close(fd)
    if barrier is None:
        return popen, records, lambda: None
    barrier.close_read_end()
    return popen, records, barrier.go


def node_environment() -> dict[str, str]:
    """The core's environment without what only nodekeeper itself reads."""
    from nodekeeper.core.version import BUNDLE_DIR_ENV, PACKAGED_ENV

    return {k: v for k, v in os.environ.items() if k not in (BUNDLE_DIR_ENV, PACKAGED_ENV)}


class StartBarrier:
    """What keeps a node that outlives its core from running before its pid is on record.

    The node no longer dies with the core (a later core takes it over), so a
    core killed between starting the node and writing the pid file would
    leave a node nobody knows of. The node therefore waits for one line on
    this pipe before it becomes the node; if the core dies first, the pipe
    closes and the node gives up (core/platform/posix.py, ``WAIT_FOR_GO``).
    """

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd: int | None = read_fd
        self._write_fd: int | None = write_fd

    @classmethod
    def open(cls) -> StartBarrier:
        read_fd, write_fd = os.pipe()
        return cls(read_fd, write_fd)

    def close_read_end(self) -> None:
        if self.read_fd is not None:
            os.close(self.read_fd)
            self.read_fd = None

    def go(self) -> None:
        """Let the node run (once)."""
        if self._write_fd is None:
            return
        try:
            os.write(self._write_fd, b"go\n")
        except OSError:  # it is gone already: its exit is seen as usual
            pass
        finally:
            os.close(self._write_fd)
            self._write_fd = None

    def close(self) -> None:
        self.close_read_end()
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None
