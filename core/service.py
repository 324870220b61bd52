"""The core service: wires every part together (the only module that knows them all).

``run_core(config)`` takes the data-dir lock, loads state, adopts the
initial binary, starts log capture, the supervisor, the status file and the
control socket, and runs until SIGTERM/SIGINT, when it stops the node
gracefully and returns 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodekeeper.core import __version__
from nodekeeper.core.config import Config, load_config
from nodekeeper.core.config.program import check_node_program
from nodekeeper.core.errors import ConfigError, NodekeeperError, OperationFailed
from nodekeeper.core.events import Event, EventBus
from nodekeeper.core.folders import check_node_account, refuse_shared_folders
from nodekeeper.core.fsutil import write_atomic
from nodekeeper.core.ipc.admission import Limits
from nodekeeper.core.ipc.server import ControlServer, Handler
from nodekeeper.core.limits import raise_open_file_limit
from nodekeeper.core.logs.capture import LogCapture
from nodekeeper.core.notify import WebhookNotifier
from nodekeeper.core.parts import PartFailure, until_stop_or_failure
from nodekeeper.core.platform import Platform, current_platform, sdnotify
from nodekeeper.core.platform.stop_signals import on_reload_request, on_stop_request
from nodekeeper.core.reload import ReloadPlan, plan_reload
from nodekeeper.core.rollout_id import RolloutId, resolve_rollout_id
from nodekeeper.core.state import State, StateStore
from nodekeeper.core.supervise.health import probe
from nodekeeper.core.supervise.pidfile import PidFile
from nodekeeper.core.supervise.spawn import LaunchPlan
from nodekeeper.core.supervise.supervisor import Supervisor
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.recovery import recover
from nodekeeper.core.update.smoke import read_version
from nodekeeper.core.update.sources.factory import ReleaseSource, open_source
from nodekeeper.core.update.store import VersionStore
from nodekeeper.core.update.updater import Updater

if TYPE_CHECKING:
    from nodekeeper.core.metrics.endpoint import MetricsEndpoint
    from nodekeeper.core.metrics.recorder import EventRecorder

_log = logging.getLogger(__name__)

STATUS_HEARTBEAT = 10.0
# After a crash: how long to wait for the node's pipes to drain, and how
# many log lines to search for its last words.
EXIT_LINE_WAIT = 2.0
EXIT_LINES = 5
STATUS_SETTLE = 0.05
BINARY_PLACEHOLDER = "{binary}"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    # Rewritten on every change: atomic for readers, not fsync'd.
    write_atomic(path, (json.dumps(data, indent=1) + "\n").encode(), durable=False)


def launch_plan(config: Config, states: StateStore, store: VersionStore) -> LaunchPlan:
    """The node's argv, with ``{binary}`` expanded to the current installed version."""
    command = config.node.command
    if not any(BINARY_PLACEHOLDER in part for part in command):
        return LaunchPlan(tuple(command), config.node.initial_version)
    current = states.load().current
    if current is None or not store.has(current):
        raise OperationFailed("no installed version to run for {binary}")
    binary = str(store.binary_path(current))
    return LaunchPlan(tuple(part.replace(BINARY_PLACEHOLDER, binary) for part in command), current)


def adopt_initial_binary(config: Config, store: VersionStore, states: StateStore) -> State:
    """Make ``node.initial_binary`` the first installed version if nothing is installed yet."""
    state = states.load()
    if state.current and store.has(state.current):
        return state
    binary = config.node.initial_binary
    if binary is None:
        return state
    key = "node.initial_binary"
    if not binary.is_file():
        raise ConfigError(f"{config.source}: {key}: {binary} does not exist")
    try:
        version = config.node.initial_version or read_version(binary)
    except NodekeeperError as exc:
        raise ConfigError(f"{config.source}: node.initial_version: not set, and {exc}") from None
    store.install_file(version, binary)
    _log.info("adopted %s as version %s", binary, version)
    installed = tuple(sorted(set(state.installed) | {version}))
    return states.update(current=version, installed=installed)


@dataclass
class Core:
    config: Config
    platform: Platform
    bus: EventBus
    states: StateStore
    store: VersionStore
    capture: LogCapture
    supervisor: Supervisor
    updater: Updater
    changes: StatusChanges
    # Where the rollout node id came from (status: updates.node_id_source).
    node_id_source: str = "random"
    # Set when [metrics] listen is: the endpoint serves it (core/metrics/).
    metrics: EventRecorder | None = None
    notifier: WebhookNotifier | None = None
    # The node's last log line when it last exited, by that exit's time.
    last_exit_line: tuple[str, str] | None = None
    # Reloaded keys the running node does not have yet (cleared when it next starts).
    node_restart_pending: tuple[str, ...] = ()
    _unsubscribe_notifier: Callable[[], None] | None = None

    # -- what the status object and the control socket show --------------------

    def status(self) -> dict[str, Any]:
        limits = self.config.limits
        node = self.supervisor.status()
        last_exit = node.get("last_exit")
        if last_exit and self.last_exit_line and self.last_exit_line[0] == last_exit.get("time"):
            node["last_exit"] = {**last_exit, "last_line": self.last_exit_line[1]}
        return {
            "instance": self.config.instance,
            "core_version": __version__,
            "node": node,
            "updates": {**self.updater.status(), "node_id_source": self.node_id_source},
            "logs": self.capture.status(),
            "limits": {
                "memory_max": limits.memory_max,
                "cpu_max": limits.cpu_max,
                "nice": limits.nice,
                "enforced_by": self.platform.enforced_by(limits),
            },
        }

    # -- control socket handlers ---------------------------------------------

    async def handle_status(self) -> dict[str, Any]:
        return self.status()

    async def handle_set_updates(self, enabled: bool) -> dict[str, Any]:
        self.states.update(updates_enabled=enabled)
        _log.info("automatic updates switched %s", "on" if enabled else "off")
        self.bus.publish("updates-toggled", {"enabled": enabled})
        return {**self.updater.status(), "node_id_source": self.node_id_source}

    async def handle_restart_node(self) -> dict[str, Any]:
        if self.supervisor.held_by_operator:
            raise OperationFailed(
                "the node is stopped by the operator; 'nodekeeper start' starts it again"
            )
        await self.supervisor.restart()
        return {"restarting": True}

    async def handle_stop_node(self) -> dict[str, Any]:
        if self.updater.busy():
            raise OperationFailed(
                f"an update is in progress ({self.updater.status()['state']}); "
                "try again when it is done"
            )
        # Persisted first: a core restarted during the stop keeps the node stopped.
        self.states.update(stopped_by_operator=True)
        _log.info("node stopped by the operator; it stays stopped until 'nodekeeper start'")
        await self.supervisor.stop_by_operator()
        return self.supervisor.status()

    async def handle_start_node(self) -> dict[str, Any]:
        self.states.update(stopped_by_operator=False)
        if self.supervisor.held_by_operator:
            _log.info("node started again by the operator")
        await self.supervisor.start_by_operator()
        return self.supervisor.status()

    async def handle_logs_tail(self, lines: int) -> list[str]:
        return await asyncio.get_running_loop().run_in_executor(None, self.capture.tail, lines)

    async def handle_check_now(self) -> dict[str, Any]:
        return await self.updater.check_now()

    async def handle_reload(self, restart_node: bool) -> dict[str, Any]:
        """Read the config file again and apply what can be applied (docs/configuration.md)."""
        loop = asyncio.get_running_loop()
        try:
            new, plan, source, rollout = await loop.run_in_executor(None, self._read_reloaded)
        except ConfigError as exc:
            _log.error("reload refused, nothing changed: %s", exc)
            raise OperationFailed(f"reload refused, nothing changed: {exc}") from None
        old = self.config
        pending = self.node_restart_pending
        pending += tuple(key for key in plan.node_restart if key not in pending)
        plan = dataclasses.replace(plan, node_restart=pending)
        self.node_restart_pending = pending
        # What needs a core restart keeps its running value until then.
        logs = dataclasses.replace(new.logs, dir=old.logs.dir)
        self.config = dataclasses.replace(new, instance=old.instance, logs=logs, paths=old.paths)
        if logs != old.logs:
            self.capture.reconfigure(logs)
        if new.node != old.node or new.limits != old.limits:
            resolve = functools.partial(launch_plan, self.config, self.states, self.store)
            self.supervisor.reconfigure(self.config.node, self.config.limits, resolve)
        if source is not None and rollout is not None:
            self.updater.reconfigure(self.config, source=source, node_id=rollout.node_id)
            self.node_id_source = rollout.source
        if new.notify != old.notify:
            await self.replace_notifier()
        restarted = False
        if restart_node and plan.node_restart and not self.supervisor.held_by_operator:
            await self.supervisor.restart()
            restarted = True
        _log.info("configuration reloaded: %s", plan.summary(node_restarted=restarted))
        self.changes.touch()
        return plan.to_json(node_restarted=restarted)

    def on_event(self, event: Event) -> None:
        if event.kind == "node-started":
            self.node_restart_pending = ()
        elif event.kind == "node-exited" and not event.data.get("requested"):
            # Published on the loop: read the log's end off it, once the pipes are drained.
            last_exit = self.supervisor.status().get("last_exit") or {}
            with contextlib.suppress(RuntimeError):
                loop = asyncio.get_running_loop()
                loop.run_in_executor(None, self._remember_last_line, str(last_exit.get("time")))

    def _remember_last_line(self, exit_time: str) -> None:
        """What the node said last before this exit, for the status sentence."""
        self.capture.wait_readers(EXIT_LINE_WAIT)
        try:
            lines = self.capture.tail(EXIT_LINES)
        except OSError:
            return
        said = [line.strip() for line in lines if line.strip()]
        if said:
            self.last_exit_line = (exit_time, said[-1])
            self.changes.touch()

    def _read_reloaded(self) -> tuple[Config, ReloadPlan, ReleaseSource | None, RolloutId | None]:
        """The new config and what changed; ConfigError when the file cannot be used."""
        new = load_config(self.config.source)
        plan = plan_reload(self.config, new)
        if new.updates == self.config.updates:
            return new, plan, None, None
        try:
            source = open_source(new)
        except UpdateError as exc:
            raise ConfigError(f"{new.source}: updates: {exc}") from None
        return new, plan, source, resolve_rollout_id(new, self.states)

    async def reload_on_signal(self) -> None:
        """SIGHUP: reload; a bad file is logged, and the core and node carry on as they were."""
        try:
            await self.handle_reload(restart_node=False)
        except OperationFailed:
            pass  # already logged by handle_reload

    async def replace_notifier(self) -> None:
        """Start (or stop) the webhook notifier for the current ``[notify]`` section."""
        old, self.notifier = self.notifier, None
        if self._unsubscribe_notifier is not None:
            self._unsubscribe_notifier()
            self._unsubscribe_notifier = None
        if old is not None:
            await asyncio.get_running_loop().run_in_executor(None, old.close)
        url = self.config.notify.webhook_url
        if url:
            notify = self.config.notify
            self.notifier = WebhookNotifier(
                url, self.config.instance, format=notify.format, chat_id=notify.chat_id
            )
            self.notifier.start()
            self._unsubscribe_notifier = self.bus.subscribe(self.notifier)


def control_handlers(core: Core) -> dict[str, Handler]:
    """What the core does for each control-socket method (core/ipc/methods.py lists them)."""
    return {
        "status": core.handle_status,
        "set_updates": core.handle_set_updates,
        "check_now": core.handle_check_now,
        "restart_node": core.handle_restart_node,
        "logs_tail": core.handle_logs_tail,
        "stop_node": core.handle_stop_node,
        "start_node": core.handle_start_node,
        "reload": core.handle_reload,
    }


def check_command_runnable(config: Config, states: StateStore, store: VersionStore) -> None:
    check_node_program(config)
    try:
        launch_plan(config, states, store)
    except OperationFailed:
        raise ConfigError(
            f"{config.source}: node.command: uses {BINARY_PLACEHOLDER} but no version is installed "
            "and node.initial_binary is not set"
        ) from None


class StatusChanges:
    """Wakes the status-file writer when something it shows has changed.

    Parts call :meth:`touch` (from any thread) on a state change; every
    event on the bus counts as one too.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
        self._loop, self._event = loop, asyncio.Event()
        return self._event

    def touch(self) -> None:
        if self._loop is not None and self._event is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._event.set)


async def _write_status_forever(core: Core, path: Path) -> None:
    """Keep ``status.json`` current for scripts that read files rather than the socket.

    It is rewritten as soon as anything in it changes, and at least every
    STATUS_HEARTBEAT seconds (for ``uptime_s``); an idle core then does no
    work at all in between.
    """
    loop = asyncio.get_running_loop()
    changed = core.changes.bind(loop)
    unsubscribe = core.bus.subscribe(lambda event: core.changes.touch())
    try:
        while True:
            changed.clear()
            try:
                await loop.run_in_executor(None, write_json_atomic, path, core.status())
            except OSError as exc:
                _log.debug("cannot write %s: %s", path, exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=STATUS_HEARTBEAT)
            # Changes come in bursts (stop, start, state): take them together.
            await asyncio.sleep(STATUS_SETTLE)
    finally:
        unsubscribe()


def ignore_sigpipe() -> None:
    """A node or client that closes its end of a pipe or socket must never kill the core:
    the write fails with EPIPE instead, which every writer handles."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)


# Beyond node.stop_timeout, for closing the socket, the last status write and
# the webhook queue: SIGTERM always ends the core within the sum.
SHUTDOWN_MARGIN = 10.0
EXIT_PART_FAILED = 1


async def serve(core: Core) -> int:
    """Run the core until SIGTERM or SIGINT (0), or until a part of it dies (1)."""
    ignore_sigpipe()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    on_stop_request(loop, stop.set)  # SIGTERM/SIGINT; Ctrl+C/Ctrl+Break on Windows
    config = core.config
    server = ControlServer(
        config.paths.socket,
        control_handlers(core),
        core.bus,
        instance=config.instance,
        core_version=__version__,
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
    # SIGHUP reloads the config file; it never stops the core or the node.
    reloads: set[asyncio.Task[None]] = set()  # kept referenced until done

    def reload() -> None:
        task = loop.create_task(core.reload_on_signal(), name="reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    on_reload_request(loop, reload)
    status_path = config.paths.data_dir / "status.json"
    # Created first, so it is listening before the supervisor starts the node.
    systemd = asyncio.create_task(sdnotify.report_to_systemd(core.bus), name="sd_notify")
    supervising = asyncio.create_task(core.supervisor.run(), name="supervisor")
    status_writer = asyncio.create_task(_write_status_forever(core, status_path), name="status")
    updating = asyncio.create_task(core.updater.run(), name="updater")
    parts = {
        "supervisor": supervising,
        "status writer": status_writer,
        "updater": updating,
        "systemd notifier": systemd,
    }
    failure = await until_stop_or_failure(parts, stop, may_return={"systemd notifier"})
    if failure is not None:
        _log_part_failure(failure)
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


def _log_part_failure(failure: PartFailure) -> None:
    """One line naming the part and the error, the traceback after it in the core's log."""
    _log.error(
        "%s; stopping the node and exiting, so that the service manager starts a new core",
        failure.describe(),
        exc_info=failure.error,
    )


async def _shut_down(
    core: Core,
    parts: dict[str, asyncio.Task[Any]],
    server: ControlServer,
    endpoint: MetricsEndpoint | None,
    status_path: Path,
) -> None:
    """Stop the node gracefully (whether or not its supervisor still runs), then the rest."""
    supervising = parts["supervisor"]
    for name, task in parts.items():
        if name != "supervisor":
            task.cancel()
    for name, task in parts.items():
        if name != "supervisor":
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
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
    if core.notifier is not None:
        await asyncio.get_running_loop().run_in_executor(None, core.notifier.close)
    if endpoint is not None:
        endpoint.close()


def build_core(config: Config) -> Core:
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
    capture = LogCapture(config.logs, config.instance, bus)
    recovery = recover(states.load(), store.installed())
    if recovery.changes:
        _log.warning("%s", recovery.message)
        states.update(**recovery.changes)
    try:
        source = open_source(config)
    except UpdateError as exc:
        raise ConfigError(f"{config.source}: updates: {exc}") from None
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
    )
    bus.subscribe(core.on_event)
    return core
