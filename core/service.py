"""The core service: wires every part together (the only module that knows them all).

``build_core(config)`` checks the start-up conditions, loads state, adopts
the initial binary and makes every part; ``serve(core)`` starts log
capture, the supervisor, the status file and the control socket, and runs
until SIGTERM/SIGINT, when it stops the node gracefully and returns 0.
What the parts do lives with them: the control handlers in control.py,
reloads in reloading.py, the status object in running.py, ``status.json``
in status_file.py, the node's command line in launch.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodekeeper.core.config import Config
from nodekeeper.core.control import control_handlers
from nodekeeper.core.errors import ConfigError, NodekeeperError
from nodekeeper.core.events import EventBus
from nodekeeper.core.folders import check_node_account, refuse_shared_folders
from nodekeeper.core.ipc.admission import Limits
from nodekeeper.core.ipc.server import ControlServer
from nodekeeper.core.launch import adopt_initial_binary, check_command_runnable, launch_plan
from nodekeeper.core.limits import raise_open_file_limit
from nodekeeper.core.logs.capture import LogCapture
from nodekeeper.core.parts import PartFailure, until_stop_or_failure
from nodekeeper.core.platform import current_platform, sdnotify
from nodekeeper.core.platform import pipes as node_pipes
from nodekeeper.core.platform.stop_signals import on_reload_request, on_stop_request
from nodekeeper.core.reloading import reload_on_signal
from nodekeeper.core.rollout_id import resolve_rollout_id
from nodekeeper.core.running import Core
from nodekeeper.core.selfupdate.checker import SelfUpdater
from nodekeeper.core.selfupdate.source import open_self_update_source
from nodekeeper.core.selfupdate.start import CoreStart
from nodekeeper.core.selfupdate.store import CoreStore
from nodekeeper.core.selfupdate.switch import (
    ProbationFailed,
    commit_when_ready,
    confirm_started,
    switch_core,
)
from nodekeeper.core.state import StateStore
from nodekeeper.core.status_file import StatusChanges, write_json_atomic, write_status_forever
from nodekeeper.core.supervise.health import probe
from nodekeeper.core.supervise.pidfile import PidFile
from nodekeeper.core.supervise.supervisor import Supervisor
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.recovery import recover
from nodekeeper.core.update.sources.factory import open_source
from nodekeeper.core.update.store import VersionStore
from nodekeeper.core.update.updater import Updater
from nodekeeper.core.version import running_version

if TYPE_CHECKING:
    from nodekeeper.core.metrics.endpoint import MetricsEndpoint

__all__ = ["Core", "build_core", "serve"]

_log = logging.getLogger(__name__)


def ignore_sigpipe() -> None:
    """A node or client that closes its end of a pipe or socket must never kill the core:
    the write fails with EPIPE instead, which every writer handles."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)


# Beyond node.stop_timeout, for closing the socket, the last status write and
# the webhook queue: SIGTERM always ends the core within the sum.
SHUTDOWN_MARGIN = 10.0
EXIT_PART_FAILED = 1


async def serve(core: Core, *, systemd: bool = True) -> int:
    """Run the core until SIGTERM or SIGINT (0), or until a part of it dies (1).

    ``systemd`` false: a process serving several instances (core/instances.py)
    speaks to systemd once, for all of them.
    """
    ignore_sigpipe()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def stop_requested() -> None:
        core.stop_requested = True
        stop.set()

    # SIGTERM/SIGINT; Ctrl+C/Ctrl+Break on Windows. SIGHUP reloads the config file.
    listening = [on_stop_request(loop, stop_requested)]
    try:
        return await _serve(core, stop, listening, systemd=systemd)
    finally:
        for stop_listening in listening:  # an instance served again must not hear twice
            stop_listening()


async def _serve(
    core: Core, stop: asyncio.Event, listening: list[Callable[[], None]], *, systemd: bool
) -> int:
    loop = asyncio.get_running_loop()
    core.attach_stop(stop)
    config = core.config
    server = ControlServer(
        config.paths.socket,
        control_handlers(core),
        core.bus,
        instance=config.instance,
        core_version=running_version(),
        limits=Limits.for_open_files(raise_open_file_limit()),
    )
    await server.start()
    endpoint = None
    if core.metrics is not None and config.metrics.listen:
        from nodekeeper.core.metrics.endpoint import MetricsEndpoint

        endpoint = MetricsEndpoint.start(
            config.metrics.listen,
            core.metrics,
            core.status,
            config.paths.data_dir,
            config.source,
            lambda: core.capture.written_lines,
        )
    await core.replace_notifier()
    if core.start is not None and core.start.rolled_back is not None:
        core.bus.publish("core-rolled-back", dict(core.start.rolled_back))
    # SIGHUP reloads the config file; it never stops the core or the node.
    reloads: set[asyncio.Task[None]] = set()  # kept referenced until done

    def reload() -> None:
        task = loop.create_task(reload_on_signal(core), name="reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    listening.append(on_reload_request(loop, reload))
    status_path = config.paths.data_dir / "status.json"
    parts: dict[str, asyncio.Task[Any]] = {}
    if systemd:  # created first, so it is listening before the supervisor starts the node
        parts["systemd notifier"] = asyncio.create_task(
            sdnotify.report_to_systemd(core.bus, stopping=lambda: core.handover is None),
            name="sd_notify",
        )
    parts["supervisor"] = asyncio.create_task(core.supervisor.run(), name="supervisor")
    parts["status writer"] = asyncio.create_task(
        write_status_forever(core.status, core.changes, core.bus, status_path), name="status"
    )
    parts["updater"] = asyncio.create_task(core.updater.run(), name="updater")
    if core.self_updater is not None:
        parts["self-updater"] = asyncio.create_task(core.self_updater.run(), name="self-updater")
    if core.start is not None and core.start.on_probation is not None:
        parts["core probation"] = asyncio.create_task(
            _probation(core, core.start.on_probation), name="core probation"
        )
    elif core.states.load().self_update.start_attempts:
        parts["core probation"] = asyncio.create_task(confirm_started(core), name="core probation")
    failure = await until_stop_or_failure(
        parts, stop, may_return={"systemd notifier", "core probation"}
    )
    if failure is None and core.leave_running and core.stop_requested:
        core.abandon_handover()  # the operator's stop wins: stop the node as asked
    elif failure is None and core.leave_running:
        await _leave_node_running(core, parts, server, endpoint)
        return 0 if core.handover is not None else EXIT_PART_FAILED
    if failure is not None:
        _log_part_failure(core, failure)
    else:
        _log.info("shutting down: stopping the node")
    bound = config.node.stop_timeout + SHUTDOWN_MARGIN
    shutting_down = _shut_down(core, parts, server, endpoint, status_path)
    try:
        await asyncio.wait_for(shutting_down, bound)
    except TimeoutError:
        _log.error("shutting down took longer than %gs; exiting now", bound)
        core.supervisor.kill_now()
        return EXIT_PART_FAILED
    return 0 if failure is None else EXIT_PART_FAILED


def _log_part_failure(core: Core, failure: PartFailure) -> None:
    """One line naming the part and the error, the traceback after it in the core's log."""
    then = (
        "this instance's core starts again"
        if core.shared_with
        else "exiting, so that the service manager starts a new core"
    )
    _log.error("%s; stopping the node and %s", failure.describe(), then, exc_info=failure.error)


async def _probation(core: Core, version: str) -> None:
    """Commit this new core once it is up, or end it and leave the node to the previous one."""
    try:
        await commit_when_ready(core, version, core.config.self_update.probation)
    except ProbationFailed as exc:
        _log.error("%s; leaving the node running for the previous core", exc)
        core.leave(why="probation")


async def _leave_node_running(
    core: Core,
    parts: dict[str, asyncio.Task[Any]],
    server: ControlServer,
    endpoint: MetricsEndpoint | None,
) -> None:
    """End every part but leave the node running, its pipes full of what it still says."""
    keep_node = node_pipes.can_reopen()
    await _end_parts(parts, keep_supervisor=not keep_node)
    if not keep_node:  # no /proc to reopen its pipes through: the node restarts once
        await core.supervisor.shutdown()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await parts["supervisor"]
    await server.close()
    held = await asyncio.get_running_loop().run_in_executor(None, core.capture.detach)
    if held is None:
        _log.warning("the log readers did not stop in time; the next core reads on from the pipes")
    else:
        core.held_partials = {pipe.inode: pipe.partial for pipe in held if pipe.partial}
    await _close_outlets(core, endpoint)


async def _shut_down(
    core: Core,
    parts: dict[str, asyncio.Task[Any]],
    server: ControlServer,
    endpoint: MetricsEndpoint | None,
    status_path: Path,
) -> None:
    """Stop the node gracefully (whether or not its supervisor still runs), then the rest."""
    supervising = parts["supervisor"]
    await _end_parts(parts, keep_supervisor=True)
    if supervising.done():
        await core.supervisor.stop_after_failure()
    else:
        await core.supervisor.shutdown()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await supervising
    await server.close()
    try:
        write_json_atomic(status_path, core.status())
    except (OSError, NodekeeperError) as exc:  # the part that failed may fail here again
        _log.warning("cannot write the last status to %s: %s", status_path, exc)
    await _close_outlets(core, endpoint)


async def _end_parts(parts: dict[str, asyncio.Task[Any]], *, keep_supervisor: bool) -> None:
    """Cancel every part (but the supervisor, when it still has the node to stop) and wait."""
    ending = [t for name, t in parts.items() if not (keep_supervisor and name == "supervisor")]
    for task in ending:
        task.cancel()
    for task in ending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def _close_outlets(core: Core, endpoint: MetricsEndpoint | None) -> None:
    """The webhook queue and the metrics endpoint, last of all."""
    if core.notifier is not None:
        await asyncio.get_running_loop().run_in_executor(None, core.notifier.close)
    if endpoint is not None:
        endpoint.close()


def build_core(
    config: Config,
    start: CoreStart | None = None,
    *,
    shared_with: tuple[str, ...] = (),
    self_update: bool = True,
) -> Core:
    """Every part of one instance's core.

    ``shared_with`` names the other instances this process serves
    (core/instances.py); only one of their cores (``self_update``) runs the
    process's own updates, since an exec hands over the whole process.
    """
    data_dir = config.paths.data_dir
    refuse_shared_folders(
        str(config.source), (("paths.data_dir", data_dir), ("logs.dir", Path(config.logs.dir)))
    )
    check_node_account(str(config.source), config.node.user, config.node.group, data_dir)
    bus = EventBus()
    states = StateStore(data_dir / "state.json", config.source)
    states.load()  # a corrupt state file stops us here, before anything starts
    store = VersionStore(data_dir, config.node.binary_name)
    store.remove_incomplete()
    adopt_initial_binary(config, store, states)
    check_command_runnable(config, states, store)
    platform = current_platform()
    # Lines are counted only for the metrics endpoint: counting costs a scan of every byte.
    capture = LogCapture(config.logs, config.instance, bus, count_lines=bool(config.metrics.listen))
    recovery = recover(states.load(), store.installed())
    if recovery.changes:
        _log.warning("%s", recovery.message)
        states.update(**recovery.changes)
    try:
        source = open_source(config)
    except UpdateError as exc:
        raise ConfigError(f"{config.source}: updates: {exc}") from None
    try:
        core_source = open_self_update_source(config)
    except UpdateError as exc:
        raise ConfigError(f"{config.source}: self_update: {exc}") from None
    core_store = CoreStore(data_dir)
    core_store.remove_incomplete()
    changes = StatusChanges()
    recorder = None
    if config.metrics.listen:
        from nodekeeper.core.metrics.endpoint import new_recorder

        recorder = new_recorder(config.instance)
        recorder.subscribe(bus)
    supervisor = Supervisor(
        config.node,
        config.limits,
        platform,
        instance=config.instance,
        resolve=functools.partial(launch_plan, config, states, store),
        pidfile=PidFile(data_dir / "node.pid"),
        bus=bus,
        stdio=capture,
        on_change=changes.touch,
        health_probe=recorder.timed(probe) if recorder else probe,
        held_by_operator=states.load().stopped_by_operator,
        partials=start.partials if start is not None else None,
    )
    if supervisor.held_by_operator:
        _log.warning("the node stays stopped: stopped by the operator ('nodekeeper start')")
    rollout_id = resolve_rollout_id(config, states)
    updater = Updater(
        config,
        states=states,
        store=store,
        node=supervisor,
        bus=bus,
        source=source,
        node_id=rollout_id.node_id,
        on_change=changes.touch,
    )
    built: list[Core] = []  # the switch needs the whole core, made just below

    async def switch(version: str) -> None:
        await switch_core(built[0], version)

    self_updater = None
    if self_update:
        self_updater = SelfUpdater(
            config,
            states=states,
            store=core_store,
            source=core_source,
            node_id=rollout_id.node_id,
            switch=switch,
            on_change=changes.touch,
        )
    core = Core(
        config,
        platform,
        bus,
        states,
        store,
        capture,
        supervisor,
        updater,
        changes,
        rollout_id.source,
        recorder,
        self_updater=self_updater,
        shared_with=shared_with,
    )
    core.start = start
    built.append(core)
    bus.subscribe(core.on_event)
    return core
