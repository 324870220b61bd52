"""One core process serving several instances: ``nodekeeper run --config A --config B ...``.

Every instance keeps what it has alone: its config file, data dir (and its
lock), socket, state, status.json, logs, metrics endpoint and node. What
the process shares is the interpreter, the event loop and the signals: a
stop or reload reaches every instance (core/platform/stop_signals.py), and
systemd hears READY=1 once every instance has started its node.

An instance whose core part fails stops its node, as a core alone would;
the process then builds that instance's core again after a back-off
instead of exiting, so that one instance's trouble never restarts the
other nodes. The first instance's core runs the process's own updates,
and a switch hands every instance over in one exec: docs/instances.md.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nodekeeper.core.config import Config
from nodekeeper.core.errors import ConfigError, NodekeeperError
from nodekeeper.core.events import Event, EventBus
from nodekeeper.core.logs.context import INSTANCE
from nodekeeper.core.platform import sdnotify
from nodekeeper.core.platform.base import DataDirLock
from nodekeeper.core.platform.stop_signals import on_stop_request
from nodekeeper.core.running import Core
from nodekeeper.core.selfupdate.handover import take_record
from nodekeeper.core.selfupdate.start import CoreStart
from nodekeeper.core.service import build_core, serve

_log = logging.getLogger("nodekeeper.core.service")

# An instance's core that failed is built again after 1, 2, 4 ... 60 s; one
# that then ran this long starts its count afresh.
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 60.0
STABLE_S = 600.0


def restart_delay(failures: int) -> float:
    """Seconds to wait before the ``failures``-th rebuild in a row (1-based)."""
    return float(min(MAX_DELAY_S, FIRST_DELAY_S * 2.0 ** max(0, failures - 1)))


# The settings no two instances may share, with how the config names them.
_OWN = (
    ("instance", lambda c: c.instance),
    ("paths.data_dir", lambda c: str(c.paths.data_dir)),
    ("paths.socket", lambda c: str(c.paths.socket)),
    ("logs.dir", lambda c: str(c.logs.dir)),
    ("metrics.listen", lambda c: c.metrics.listen or None),
)


def check_distinct(configs: Sequence[Config]) -> None:
    """Refuse, in one line, two configs that would share an instance's own things."""
    for key, value_of in _OWN:
        seen: dict[object, Config] = {}
        for config in configs:
            value = value_of(config)
            if value is None:
                continue
            if value in seen:
                raise ConfigError(
                    f"{seen[value].source} and {config.source} both have {key} = {value}: "
                    "each instance needs its own"
                )
            seen[value] = config


def handed_over_start(config: Config) -> CoreStart:
    """The unfinished lines a core that left the node running held (read once)."""
    record = take_record(config.paths.data_dir)
    return CoreStart(partials=dict(record.partials) if record is not None else {})


@dataclass
class Instance:
    """One served instance: the core running now (rebuilt after a failure)."""

    config: Config
    core: Core
    others: tuple[str, ...]
    # The first instance's core runs the process's self-update (its store and state).
    leads: bool = False

    def build(self, start: CoreStart | None) -> Core:
        return _build(self.config, self.others, self.leads, start)


def _build(config: Config, others: tuple[str, ...], leads: bool, start: CoreStart | None) -> Core:
    return build_core(config, start, shared_with=others, self_update=leads)


def build_all(configs: Sequence[Config], lead_start: CoreStart | None) -> list[Instance]:
    """Every instance's core, each built in its own logging context.

    ``lead_start``: what the launcher step found for the first instance
    (core/selfupdate/start.py); the others only take the unfinished lines
    their last core held.
    """
    names = [config.instance for config in configs]
    instances: list[Instance] = []
    for config in configs:
        leads = not instances
        others = tuple(name for name in names if name != config.instance)
        token = INSTANCE.set(config.instance)
        try:
            start = lead_start if leads else handed_over_start(config)
            core = _build(config, others, leads, start)
        finally:
            INSTANCE.reset(token)
        instances.append(Instance(config, core, others, leads))
    return instances


class ReadyWhenAll:
    """Publishes ``node-started`` on its own bus once every instance said it is ready."""

    def __init__(self, names: Sequence[str]) -> None:
        self.bus = EventBus()
        self._waiting = set(names)

    def watch(self, instance: str, bus: EventBus) -> Callable[[], None]:
        def on_event(event: Event) -> None:
            if event.kind in sdnotify.READY_EVENTS and instance in self._waiting:
                self._waiting.discard(instance)
                if not self._waiting:
                    self.bus.publish("node-started", {"instances": "all"})

        return bus.subscribe(on_event)


async def serve_all(instances: Sequence[Instance]) -> int:
    """Serve every instance until SIGTERM/SIGINT (0 when every node stopped cleanly), or
    until the process hands over to a new core or leaves its nodes running (probation)."""
    loop = asyncio.get_running_loop()
    ending = asyncio.Event()  # SIGTERM/SIGINT, or the whole process leaving its nodes
    stop_listening = on_stop_request(loop, ending.set)
    ready = ReadyWhenAll([i.config.instance for i in instances])
    lead = instances[0]
    systemd = asyncio.create_task(
        # No STOPPING=1 when a new core is exec'd in this process: systemd would wait for
        # an exit that never comes, then kill the nodes.
        sdnotify.report_to_systemd(ready.bus, stopping=lambda: lead.core.handover is None),
        name="sd_notify",
    )
    runs = []
    for instance in instances:
        context = contextvars.copy_context()
        context.run(INSTANCE.set, instance.config.instance)
        runs.append(
            loop.create_task(
                _keep_serving(instance, instances, ending, ready),
                name=f"instance {instance.config.instance}",
                context=context,
            )
        )
    try:
        codes = await asyncio.gather(*runs)
    finally:
        stop_listening()
        systemd.cancel()
        await asyncio.gather(systemd, return_exceptions=True)
    return max(codes, default=0)


async def _keep_serving(
    instance: Instance,
    instances: Sequence[Instance],
    ending: asyncio.Event,
    ready: ReadyWhenAll,
) -> int:
    """Serve one instance; after a failure, build its core again until the process ends."""
    loop = asyncio.get_running_loop()
    name = instance.config.instance
    failures = 0
    while True:
        core = instance.core
        if instance.leads:
            # A switch or a failed probation of the process's core takes every instance along.
            core.companions = lambda: [i.core for i in instances if not i.leads]
            core.on_leave = ending.set
        unwatch = ready.watch(name, core.bus)
        started = loop.time()
        core.capture.start()
        try:
            code = await serve(core, systemd=False)
        finally:
            unwatch()
            await asyncio.to_thread(core.capture.close)
        if code == 0 or core.stop_requested or core.leave_running or ending.is_set():
            return code
        failures = 1 if loop.time() - started > STABLE_S else failures + 1
        while True:
            delay = restart_delay(failures)
            _log.error(
                "the core of instance %s stopped after a failure (the other instances go on); "
                "starting it again in %gs",
                name,
                delay,
            )
            if await _stopped_within(ending, delay):
                return code
            try:
                instance.core = await asyncio.to_thread(instance.build, None)
                break
            except NodekeeperError as exc:
                _log.error("cannot start the core of instance %s again: %s", name, exc)
                failures += 1
        _log.info("the core of instance %s started again (pid %d)", name, os.getpid())


def leave_or_hand_over(
    cores: Sequence[Core], locks: Sequence[DataDirLock], args: Sequence[str], code: int
) -> int:
    """After serving: exec the new core for every instance (the first core's switch), or
    leave each node that was left running a record for the core that takes it over next.
    One core alone is the case of one."""
    from nodekeeper.core.selfupdate.exec_switch import hand_over, leave_record

    lead = cores[0]
    if lead.handover is not None and all(core.handover is not None for core in cores):
        for core in cores[1:]:
            leave_record(core)
        return hand_over(lead, lead.handover, locks, args)  # returns only on failure
    for core in cores:
        if core.leave_running:
            leave_record(core)
    return code


async def _stopped_within(stopping: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        return False
    return True
