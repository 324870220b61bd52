"""The running core: its parts, the status object they make up, and what it remembers.

:class:`Core` holds every part ``build_core`` made (core/service.py) and
the little the core itself keeps between events: the node's last words
before an exit, reloaded keys the running node does not have yet, the
webhook notifier. It decides nothing for the parts: they are driven by
``serve``, the control handlers (core/control.py) and reloads
(core/reloading.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nodekeeper.core.config import Config
from nodekeeper.core.events import Event, EventBus
from nodekeeper.core.logs.capture import LogCapture
from nodekeeper.core.notify import WebhookNotifier
from nodekeeper.core.platform import Platform
from nodekeeper.core.state import StateStore
from nodekeeper.core.status_file import StatusChanges
from nodekeeper.core.supervise.supervisor import Supervisor
from nodekeeper.core.update.store import VersionStore
from nodekeeper.core.update.updater import Updater
from nodekeeper.core.version import running_version

if TYPE_CHECKING:
    from nodekeeper.core.metrics.recorder import EventRecorder
    from nodekeeper.core.selfupdate.checker import SelfUpdater
    from nodekeeper.core.selfupdate.start import CoreStart
    from nodekeeper.core.selfupdate.switch import Handover

# After a crash: how long to wait for the node's pipes to drain, and how
# many log lines to search for its last words.
EXIT_LINE_WAIT = 2.0
EXIT_LINES = 5


def _alone() -> list[Core]:
    return []


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
    # The core's own updates (None for all but the first instance of a process serving
    # several, and in tests that build a Core by hand).
    self_updater: SelfUpdater | None = None
    # The other instances served by this process (core/instances.py); empty when alone.
    shared_with: tuple[str, ...] = ()
    # Set by that process on the core that runs its self-update (its first instance): the
    # other instances' cores, which hand over or leave with this one (never half a process),
    # and what to tell the process when this core leaves.
    companions: Callable[[], list[Core]] = _alone
    on_leave: Callable[[], None] | None = None
    # The node's last log line when it last exited, by that exit's time.
    last_exit_line: tuple[str, str] | None = None
    # Reloaded keys the running node does not have yet (cleared when it next starts).
    node_restart_pending: tuple[str, ...] = ()
    _unsubscribe_notifier: Callable[[], None] | None = None
    # What the launcher step found (core/selfupdate/start.py); None in tests that build a core.
    start: CoreStart | None = None
    # Set to end the core without stopping the node: a switch to a new core (handover),
    # or a new core that failed its probation (leave_running only).
    handover: Handover | None = None
    leave_running: bool = False
    # SIGTERM/SIGINT arrived: it wins over a hand-over that was about to happen.
    stop_requested: bool = False
    # The partial lines the log readers held when they stopped, by pipe inode.
    held_partials: dict[int, bytes] = dataclasses.field(default_factory=dict)
    _stop: asyncio.Event | None = None

    def attach_stop(self, stop: asyncio.Event) -> None:
        """The event that ends ``serve``."""
        self._stop = stop

    def request_handover(self, handover: Handover) -> None:
        """End the core for a switch, leaving the node running for the new core."""
        self.handover = handover
        self.leave(why="switch")

    def abandon_handover(self) -> None:
        """A stop came first: forget the switch (it is retried later) and stop as usual."""
        if self.handover is not None:
            saved = self.states.load().self_update
            trying = saved.trying
            if trying is not None and trying.version == self.handover.version:
                self.states.update(self_update=dataclasses.replace(saved, trying=None))
        self.handover = None
        self.leave_running = False

    def leave(self, why: str) -> None:
        """End the core without stopping the node (a later core takes it over)."""
        self.leave_running = True
        if self._stop is not None:
            self._stop.set()
        for other in self.companions():
            other.handover = self.handover
            other.leave(why)
        if self.on_leave is not None:
            self.on_leave()

    def status(self) -> dict[str, Any]:
        """The status object: what ``status.json``, the socket and /metrics show."""
        limits = self.config.limits
        node = self.supervisor.status()
        last_exit = node.get("last_exit")
        if last_exit and self.last_exit_line and self.last_exit_line[0] == last_exit.get("time"):
            node["last_exit"] = {**last_exit, "last_line": self.last_exit_line[1]}
        return {
            "instance": self.config.instance,
            "core_version": running_version(),
            "node": node,
            "updates": self.updates_status(),
            **({} if self.self_updater is None else {"self_update": self.self_updater.status()}),
            **({"shared_with": list(self.shared_with)} if self.shared_with else {}),
            "logs": self.capture.status(),
            "limits": {
                "memory_max": limits.memory_max,
                "cpu_max": limits.cpu_max,
                "nice": limits.nice,
                "enforced_by": self.platform.enforced_by(limits),
            },
        }

    def no_self_update(self) -> str:
        """Why this core has no self-update of its own, in one line."""
        if self.shared_with:
            lead = self.shared_with[0]
            return (
                f"this core process also serves {', '.join(self.shared_with)}; its own updates "
                f"are run by instance {lead}: add --instance {lead} (docs/instances.md)"
            )
        return "this core has no self-update"

    def updates_status(self) -> dict[str, Any]:
        return {**self.updater.status(), "node_id_source": self.node_id_source}

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
