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
        popen, pipes = spawn_node(platform, plan, node, limits, instance=instance, stdio=stdio)
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
    return NodeRun(ident, plan.version, now, exited, pipes=pipes)


def spawn_node(
    platform: Platform,
    plan: LaunchPlan,
    node: NodeConfig,
    limits: LimitsConfig,
    *,
    instance: str,
    stdio: StdioSource | None,
) -> tuple[subprocess.Popen[bytes], tuple[PipeRecord, ...]]:
    """The started node, and where a later core finds its pipes (none without ``stdio``)."""
    request = SpawnRequest(
        argv=plan.argv,
        env={**os.environ, **node.env},
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
    try:
        return platform.spawn(request), records
    finally:
        # The node has its own copies; ours would keep the pipes open after it exits.
        for fd in (stdout_w, stderr_w):
            if fd is not None:
                os.close(fd)
