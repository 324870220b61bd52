"""What a changed configuration file means for a running core (SIGHUP, `nodekeeper reload`).

:func:`plan_reload` compares the running :class:`Config` with the newly
read one, key by key, and sorts every changed key into one of three kinds:

* **live**: the core applies it at once (the update schedule and source,
  the core's own update source,
  the supervisor's health, restart and stop settings, the node log's
  rotation, pruning and compression, the webhook);
* **node restart**: the running node keeps the old value until it next
  starts (its command line, environment, working folder, resource limits,
  which are set when the node process is created); the core restarts it
  only when asked (`reload --restart-node`);
* **core restart**: fixed for the life of the core (its name, socket,
  data dir, log folder, the executable's name in the version
  store: open, locked or built into parts that live as long as the core).

Pure: no I/O. A key not listed below needs a core restart, so a key added
to the schema later is never silently half-applied.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nodekeeper.core.config import Config
from nodekeeper.core.config.schema import SECTIONS

# Keys whose new value the running core applies at once.
LIVE_SECTIONS = frozenset({"updates", "self_update", "notify"})
LIVE_KEYS = frozenset(
    {
        "node.health_url",
        "node.health_interval",
        "node.health_timeout",
        "node.health_failures",
        "node.restart_delay",
        "node.restart_delay_max",
        "node.stable_after",
        "node.crash_loop_restarts",
        "node.crash_loop_window",
        "node.stop_signal",
        "node.stop_timeout",
        # The node's log; the core's own log keeps them until the core restarts.
        "logs.max_file_size",
        "logs.max_total_size",
        "logs.max_age",
        "logs.compress",
    }
)
# Keys that take effect when the node process is next created.
NODE_RESTART_KEYS = frozenset(
    {
        "node.command",
        "node.workdir",
        "node.env",
        "limits.memory_max",
        "limits.cpu_max",
        "limits.nice",
    }
)


@dataclass(frozen=True)
class ReloadPlan:
    """The changed keys (dotted, sorted), by what applying them takes."""

    live: tuple[str, ...] = ()
    node_restart: tuple[str, ...] = ()
    core_restart: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.live or self.node_restart or self.core_restart)

    def summary(self, *, node_restarted: bool = False) -> str:
        """One line for the CLI answer and the core's log."""
        if not self.changed:
            return "configuration unchanged"
        parts = []
        if self.live:
            parts.append("applied: " + ", ".join(self.live))
        if self.node_restart:
            when = "node restarted for" if node_restarted else "needs a node restart"
            parts.append(f"{when}: " + ", ".join(self.node_restart))
        if self.core_restart:
            parts.append("needs a core restart: " + ", ".join(self.core_restart))
        return "; ".join(parts)

    def to_json(self, *, node_restarted: bool) -> dict[str, Any]:
        return {
            "applied": list(self.live),
            "needs_node_restart": list(self.node_restart),
            "needs_core_restart": list(self.core_restart),
            "node_restarted": node_restarted,
            "summary": self.summary(node_restarted=node_restarted),
        }


def kind_of(key: str) -> str:
    """``"live"``, ``"node_restart"`` or ``"core_restart"`` for a dotted key."""
    if key.split(".", 1)[0] in LIVE_SECTIONS or key in LIVE_KEYS:
        return "live"
    if key in NODE_RESTART_KEYS:
        return "node_restart"
    return "core_restart"


def changed_keys(old: Config, new: Config) -> list[str]:
    """The dotted keys whose values differ, in file order."""
    keys = [] if old.instance == new.instance else ["instance"]
    for section in SECTIONS:
        before, after = getattr(old, section), getattr(new, section)
        for f in dataclasses.fields(before):
            if getattr(before, f.name) != getattr(after, f.name):
                keys.append(f"{section}.{f.name}")
    return keys


def plan_reload(old: Config, new: Config) -> ReloadPlan:
    kinds: dict[str, list[str]] = {"live": [], "node_restart": [], "core_restart": []}
    for key in changed_keys(old, new):
        kinds[kind_of(key)].append(key)
    # node.initial_* only matter before a first version is installed: nothing to apply.
    return ReloadPlan(
        live=tuple(kinds["live"]),
        node_restart=tuple(kinds["node_restart"]),
        core_restart=tuple(k for k in kinds["core_restart"] if k not in _IGNORED_WHILE_RUNNING),
    )


# Read once, at the first start of a core with nothing installed.
_IGNORED_WHILE_RUNNING = frozenset({"node.initial_binary", "node.initial_version"})
