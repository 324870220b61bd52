"""What the core does for each control-socket method (core/ipc/methods.py lists them).

Each handler is a coroutine called with the request's checked parameters
as keyword arguments; the server has already decided who may call it.
Handlers refuse what cannot be done now with a one-line
:class:`OperationFailed`, never a traceback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.ipc.server import Handler
from nodekeeper.core.reloading import apply_reload
from nodekeeper.core.running import Core

# The core's log lines keep the source name they have always carried.
_log = logging.getLogger("nodekeeper.core.service")


def control_handlers(core: Core) -> dict[str, Handler]:
    """The handler of each control-socket method, for ``ControlServer``."""
    handlers = ControlHandlers(core)
    return {
        "status": handlers.status,
        "set_updates": handlers.set_updates,
        "check_now": handlers.check_now,
        "roll_back_core": handlers.roll_back_core,
        "restart_node": handlers.restart_node,
        "logs_tail": handlers.logs_tail,
        "stop_node": handlers.stop_node,
        "start_node": handlers.start_node,
        "reload": handlers.reload,
    }


# How long a rollback waits after its answer before it ends the core's socket.
ANSWER_FIRST = 0.2


@dataclass(frozen=True)
class ControlHandlers:
    core: Core

    async def status(self) -> dict[str, Any]:
        return self.core.status()

    async def set_updates(
        self, enabled: bool, core: bool = False, node: bool = False
    ) -> dict[str, Any]:
        """The node's updates (no flag, or ``node``), the core's own (``core``), or both.

        The answer is the ``updates`` part when the node's switched, else the
        ``self_update`` part; with both, the ``updates`` part holds the
        ``self_update`` one too.
        """
        word = "on" if enabled else "off"
        self_updater = self.core.self_updater
        if core:
            if self_updater is None:
                raise OperationFailed(self.core.no_self_update())
            self.core.states.modify(
                lambda s: dataclasses.replace(
                    s,
                    self_update=dataclasses.replace(s.self_update, updates_enabled=enabled),
                )
            )
            _log.info("automatic updates of the core itself switched %s", word)
            self.core.bus.publish("updates-toggled", {"enabled": enabled, "part": "core"})
            self.core.changes.touch()
            if not node:
                return self_updater.status()
        self.core.states.update(updates_enabled=enabled)
        _log.info("automatic updates switched %s", word)
        self.core.bus.publish("updates-toggled", {"enabled": enabled})
        answer = self.core.updates_status()
        if core and self_updater is not None:
            answer["self_update"] = self_updater.status()
        return answer

    async def restart_node(self) -> dict[str, Any]:
        supervisor = self.core.supervisor
        if supervisor.held_by_operator:
            raise OperationFailed(
                "the node is stopped by the operator; 'nodekeeper start' starts it again"
            )
        await supervisor.restart()
        return {"restarting": True}

    async def stop_node(self) -> dict[str, Any]:
        updater = self.core.updater
        if updater.busy():
            raise OperationFailed(
                f"an update is in progress ({updater.status()['state']}); try again when it is done"
            )
        # Persisted first: a core restarted during the stop keeps the node stopped.
        self.core.states.update(stopped_by_operator=True)
        _log.info("node stopped by the operator; it stays stopped until 'nodekeeper start'")
        await self.core.supervisor.stop_by_operator()
        return self.core.supervisor.status()

    async def start_node(self) -> dict[str, Any]:
        supervisor = self.core.supervisor
        self.core.states.update(stopped_by_operator=False)
        if supervisor.held_by_operator:
            _log.info("node started again by the operator")
        await supervisor.start_by_operator()
        return supervisor.status()

    async def logs_tail(self, lines: int) -> list[str]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.core.capture.tail, lines)

    async def check_now(self, core: bool = False) -> dict[str, Any]:
        if not core:
            return await self.core.updater.check_now()
        if self.core.self_updater is None:
            raise OperationFailed(self.core.no_self_update())
        return await self.core.self_updater.check_now()

    async def roll_back_core(self, dry_run: bool = False) -> dict[str, Any]:
        from nodekeeper.core.selfupdate.handover import SwitchFailed
        from nodekeeper.core.selfupdate.switch import prepare_switch, rollback_target
        from nodekeeper.core.version import running_version

        if self.core.self_updater is None:
            raise OperationFailed(self.core.no_self_update())
        running = running_version()
        try:
            version, command = rollback_target(self.core)
            answer = {
                "from": running,
                "to": version,
                "node_pid": self.core.supervisor.status().get("pid"),
                "dry_run": dry_run,
            }
            if dry_run:
                return answer
            handover = await prepare_switch(self.core, version, command)
        except SwitchFailed as exc:
            raise OperationFailed(str(exc)) from None
        # After this answer is on its way: the switch ends the socket.
        asyncio.get_running_loop().call_later(ANSWER_FIRST, self._roll_back, handover, running)
        return answer

    def _roll_back(self, handover: Any, running: str) -> None:
        from nodekeeper.core.selfupdate.handover import SwitchFailed
        from nodekeeper.core.selfupdate.switch import begin_switch

        try:
            begin_switch(self.core, handover, quarantine=running)
        except SwitchFailed as exc:
            _log.warning("core rollback to %s not done: %s", handover.version, exc)

    async def reload(self, restart_node: bool) -> dict[str, Any]:
        return await apply_reload(self.core, restart_node)
