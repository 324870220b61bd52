"""Applying a reload: reads the config file again and hands each part what changed.

``plan_reload`` (core/reload.py) decides what a changed key needs; this
module carries that plan out on a running :class:`Core` (method ``reload``
and SIGHUP, docs/configuration.md). A file that cannot be used changes
nothing: the core and the node carry on exactly as they were.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from typing import Any

from nodekeeper.core.config import Config, load_config
from nodekeeper.core.errors import ConfigError, OperationFailed
from nodekeeper.core.launch import launch_plan
from nodekeeper.core.reload import ReloadPlan, plan_reload
from nodekeeper.core.rollout_id import RolloutId, resolve_rollout_id
from nodekeeper.core.running import Core
from nodekeeper.core.selfupdate.source import open_self_update_source
from nodekeeper.core.state import StateStore
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.sources.factory import ReleaseSource, open_source

# The core's log lines keep the source name they have always carried.
_log = logging.getLogger("nodekeeper.core.service")

Reloaded = tuple[Config, ReloadPlan, ReleaseSource | None, RolloutId | None]


@dataclasses.dataclass(frozen=True)
class CoreSourceChange:
    """A changed ``[self_update]`` (or ``[updates]``, whose defaults it follows), opened."""

    source: ReleaseSource | None


async def apply_reload(core: Core, restart_node: bool) -> dict[str, Any]:
    """Read the config file again and apply what can be applied (docs/configuration.md)."""
    loop = asyncio.get_running_loop()
    try:
        new, plan, source, rollout = await loop.run_in_executor(
            None, read_reloaded, core.config, core.states
        )
        core_source = await loop.run_in_executor(None, read_core_source, core.config, new)
    except ConfigError as exc:
        _log.error("reload refused, nothing changed: %s", exc)
        raise OperationFailed(f"reload refused, nothing changed: {exc}") from None
    old = core.config
    pending = core.node_restart_pending
    pending += tuple(key for key in plan.node_restart if key not in pending)
    plan = dataclasses.replace(plan, node_restart=pending)
    core.node_restart_pending = pending
    # What needs a core restart keeps its running value until then.
    logs = dataclasses.replace(new.logs, dir=old.logs.dir)
    core.config = dataclasses.replace(new, instance=old.instance, logs=logs, paths=old.paths)
    if logs != old.logs:
        core.capture.reconfigure(logs)
    if new.node != old.node or new.limits != old.limits:
        resolve = functools.partial(launch_plan, core.config, core.states, core.store)
        core.supervisor.reconfigure(core.config.node, core.config.limits, resolve)
    if source is not None and rollout is not None:
        core.updater.reconfigure(core.config, source=source, node_id=rollout.node_id)
        core.node_id_source = rollout.source
    if core_source is not None and core.self_updater is not None:
        node_id = rollout.node_id if rollout is not None else core.self_updater.node_id
        core.self_updater.reconfigure(core.config, source=core_source.source, node_id=node_id)
    if new.notify != old.notify:
        await core.replace_notifier()
    restarted = False
    if restart_node and plan.node_restart and not core.supervisor.held_by_operator:
        await core.supervisor.restart()
        restarted = True
    _log.info("configuration reloaded: %s", plan.summary(node_restarted=restarted))
    core.changes.touch()
    return plan.to_json(node_restarted=restarted)


def read_reloaded(config: Config, states: StateStore) -> Reloaded:
    """The new config and what changed; ConfigError when the file cannot be used."""
    new = load_config(config.source)
    plan = plan_reload(config, new)
    if new.updates == config.updates:
        return new, plan, None, None
    try:
        source = open_source(new)
    except UpdateError as exc:
        raise ConfigError(f"{new.source}: updates: {exc}") from None
    return new, plan, source, resolve_rollout_id(new, states)


def read_core_source(config: Config, new: Config) -> CoreSourceChange | None:
    """The core's new release source, None when it did not change; ConfigError if unusable."""
    if new.self_update == config.self_update and new.updates == config.updates:
        return None
    try:
        return CoreSourceChange(open_self_update_source(new))
    except UpdateError as exc:
        raise ConfigError(f"{new.source}: self_update: {exc}") from None


async def reload_on_signal(core: Core) -> None:
    """SIGHUP: reload; a bad file is logged, and the core and node carry on as they were."""
    try:
        await apply_reload(core, restart_node=False)
    except OperationFailed:
        pass  # already logged by apply_reload
