"""Stopping the node, and what earlier runs left behind.

A graceful stop is the stop signal, up to ``stop_timeout`` to exit, then
the whole process tree killed. Nothing of an earlier run may live when a
node starts: before every start the whole process group of the previous
run must be gone, and before the first start of a core a node that a
previous core left running (found through the pid file) is stopped. A pid
that the pid file names but that now belongs to another process is never
touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nodekeeper.core.config import NodeConfig
from nodekeeper.core.platform.base import Platform, ProcessIdentity, reap_if_zombie
from nodekeeper.core.supervise.clock import Clock, wait_for
from nodekeeper.core.supervise.pidfile import PidFile, same_process
from nodekeeper.core.supervise.process import ExitInfo, NodeRun, exit_info_from_returncode

_log = logging.getLogger(__name__)

# How long leftovers of a killed group get to disappear before we give up waiting.
KILL_SETTLE_TIMEOUT = 5.0
POLL_INTERVAL = 0.05
LIST_RETRY_INTERVAL = 0.5


async def stop_gracefully(
    run: NodeRun, node: NodeConfig, reason: str, *, platform: Platform, clock: Clock
) -> ExitInfo:
    """Stop the run: ``node.stop_signal``, wait ``node.stop_timeout``, then kill the whole tree."""
    if not run.exited.done():
        _log.info("stopping node pid %d (%s, %s)", run.pid, node.stop_signal, reason)
        platform.send_stop(run.ident, node.stop_signal)
        try:
            await wait_for(clock, asyncio.shield(run.exited), node.stop_timeout)
        except TimeoutError:
            _log.warning(
                "node did not stop within %gs; killing its process tree", node.stop_timeout
            )
            platform.kill_tree(run.ident)
            await run.exited
    return exit_info_from_returncode(run.exited.result(), reason)


async def kill_leftovers(platform: Platform, clock: Clock, ident: ProcessIdentity) -> None:
    """Kill what is left of the node's group until nothing of it lives."""
    loop = asyncio.get_running_loop()
    deadline = clock.now() + KILL_SETTLE_TIMEOUT
    while True:
        try:
            members = await loop.run_in_executor(None, platform.group_members, ident)
        except OSError as exc:
            # Out of file descriptors (EMFILE) or memory, listing /proc fails: the
            # group may still live, so wait and look again rather than guess.
            if clock.now() > deadline:
                _log.error("cannot check that the old node is gone: %s", exc.strerror or exc)
                return
            _log.warning("cannot list the old node's processes: %s", exc.strerror or exc)
            platform.kill_tree(ident)  # the group kill needs no listing
            await clock.sleep(LIST_RETRY_INTERVAL)
            continue
        alive = [pid for pid in members if platform.status(pid) not in ("gone", "zombie")]
        if not alive:
            return
        if clock.now() > deadline:
            _log.error("processes %s of the old node survive SIGKILL", alive)
            return
        _log.info("killing %d leftover process(es) of the node: %s", len(alive), alive)
        platform.kill_tree(ident)
        await clock.sleep(POLL_INTERVAL)


async def stop_previous_node(
    platform: Platform,
    clock: Clock,
    pidfile: PidFile,
    node: NodeConfig,
    on_found: Callable[[], None],
) -> None:
    """Stop a node that a previous core left running; ``on_found`` hears that one was."""
    recorded = pidfile.read()
    if recorded is None:
        return
    if platform.status(recorded.pid) == "zombie":
        reap_if_zombie(recorded.pid)
    live = platform.identity(recorded.pid)
    if same_process(recorded, live):
        _log.warning(
            "a node left by a previous core is still running (pid %d); stopping it",
            recorded.pid,
        )
        on_found()
        platform.send_stop(recorded, node.stop_signal)
        deadline = clock.now() + node.stop_timeout
        while clock.now() < deadline and same_process(recorded, platform.identity(recorded.pid)):
            await clock.sleep(POLL_INTERVAL)
        platform.kill_tree(recorded)
    elif live is not None:
        _log.info(
            "pid %d from the pid file now belongs to another process; not touching it",
            recorded.pid,
        )
    # The leader may be gone while processes it forked live on in its group.
    members = await asyncio.get_running_loop().run_in_executor(
        None, platform.group_members, recorded
    )
    if members and (live is None or same_process(recorded, live) or recorded.pid not in members):
        await kill_leftovers(platform, clock, recorded)
    pidfile.remove()
