"""CLI commands that talk to a running core: `status`, `updates on|off`, `check`, `restart`.

Each finds the socket (``--socket PATH``, else ``--config FILE``'s
``paths.socket``, else the default socket of instance "storagenode"),
asks the core through :class:`nodekeeper.core.ipc.client.Client` and prints the
answer. The text forms are for people; ``--json`` prints the contract
objects of DESIGN.md §4/§6 unchanged.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.ipc.client import Client

DECISION_ACTIONS = ("none", "update", "rollback", "notify")
CHECK_TIMEOUT = 180.0


def register(sub: Any) -> None:
    status = sub.add_parser("status", help="show the node's and the core's state")
    target_options(status)
    status.add_argument("--json", action="store_true", help="print the status object as JSON")
    status.set_defaults(func=run_status)

    updates = sub.add_parser("updates", help="switch automatic updates on or off")
    updates.add_argument(
        "switch", choices=("on", "off"), help="on: install updates; off: only notify"
    )
    target_options(updates)
    updates.set_defaults(func=run_updates)

    check = sub.add_parser("check", help="check for an update now and print the decision")
    target_options(check)
    check.add_argument("--json", action="store_true", help="print the decision as JSON")
    check.set_defaults(func=run_check)

    restart = sub.add_parser("restart", help="restart the node")
    target_options(restart)
    restart.set_defaults(func=run_restart)


def target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--config", metavar="FILE", help="find the core's socket in this configuration"
    )
    where.add_argument("--socket", metavar="PATH", help="the core's control socket")


def socket_path(args: argparse.Namespace) -> str:
    if args.socket:
        return str(args.socket)
    if args.config:
        from nodekeeper.core.config import load_config

        return load_config(args.config).paths.socket
    from nodekeeper.core.paths import default_socket

    return default_socket()


def _connect(args: argparse.Namespace) -> Client:
    return Client(socket_path(args))


def run_status(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        status = client.call("status")
        path = client.path
    if not isinstance(status, dict):
        raise OperationFailed("status: the core sent something that is not a status object")
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=False))
    else:
        print(format_status(status, path))
    return 0


def run_updates(args: argparse.Namespace) -> int:
    enabled = args.switch == "on"
    with _connect(args) as client:
        result = client.call("set_updates", {"enabled": enabled})
    if not isinstance(result, dict) or result.get("enabled") is not enabled:
        raise OperationFailed(f"updates {args.switch}: the core did not confirm the change")
    print(
        f"automatic updates are {args.switch}"
        + ("" if enabled else " (checks still run and notify)")
    )
    return 0


def run_check(args: argparse.Namespace) -> int:
    # A check asks the release source over the network: allow it more time.
    with Client(socket_path(args), timeout=CHECK_TIMEOUT) as client:
        decision = client.call("check_now")
    problem = decision_problem(decision)
    if problem:
        raise OperationFailed(f"check: the core sent a bad decision ({problem})")
    if args.json:
        print(json.dumps({k: decision[k] for k in ("action", "target", "reason")}))
    else:
        print(format_decision(decision))
    return 0


def run_restart(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        client.call("restart_node")
    print("node restart requested")
    return 0


# -- pure formatting -----------------------------------------------------------


def decision_problem(decision: Any) -> str | None:
    """What is wrong with a decision object, or None if it has the contract's shape."""
    if not isinstance(decision, dict):
        return "not an object"
    if decision.get("action") not in DECISION_ACTIONS:
        return f"action {decision.get('action')!r}"
    if decision.get("target") is not None and not isinstance(decision.get("target"), str):
        return "target is not a version"
    if not isinstance(decision.get("reason"), str):
        return "no reason"
    return None


def format_decision(decision: Mapping[str, Any]) -> str:
    action, target, reason = decision["action"], decision["target"], decision["reason"]
    if action == "none":
        return f"no update: {reason}"
    if action == "update":
        return f"updating to {target}: {reason}"
    if action == "rollback":
        return f"rolling back to {target}: {reason}"
    return f"update to {target} is due but automatic updates are off: {reason}"


def humanize_duration(seconds: float) -> str:
    """``3725`` → ``"1h 2m"``: the two largest units, for people."""
    if seconds < 0 or seconds != seconds:
        return "?"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    parts: list[str] = []
    for name, size in units:
        count, whole = divmod(whole, size)
        if count or parts:
            parts.append(f"{count}{name}")
        if len(parts) == 2:
            break
    return " ".join(p for p in parts if not p.startswith("0")) or "0s"


def humanize_bytes(count: Any) -> str:
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover - loop always returns


def _section(status: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = status.get(name)
    return value if isinstance(value, dict) else {}


def _text(value: Any, missing: str = "?") -> str:
    if value is None:
        return missing
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def format_status(status: Mapping[str, Any], socket: str) -> str:
    """The readable summary of ``status`` (tolerates missing or odd fields: shows '?')."""
    node = _section(status, "node")
    updates = _section(status, "updates")
    logs = _section(status, "logs")
    lines = [
        f"instance  {_text(status.get('instance'))} (core {_text(status.get('core_version'))}, {socket})"
    ]

    uptime = node.get("uptime_s")
    node_bits = [_text(node.get("state"))]
    node_bits.append(f"version {_text(node.get('version'), 'unknown')}")
    if node.get("pid") is not None:
        node_bits.append(f"pid {_text(node.get('pid'))}")
    if isinstance(uptime, (int, float)) and not isinstance(uptime, bool):
        node_bits.append(f"up {humanize_duration(float(uptime))}")
    restarts = node.get("restarts")
    node_bits.append(f"{_text(restarts)} restart{'' if restarts == 1 else 's'}")
    healthy = node.get("healthy")
    if healthy is not None:
        node_bits.append("healthy" if healthy is True else "NOT healthy")
    lines.append("node      " + ", ".join(node_bits))
    if node.get("last_exit") is not None:
        lines.append(f"          last exit: {_text(node.get('last_exit'))}")

    enabled = updates.get("enabled")
    switch = "on" if enabled is True else "off" if enabled is False else "?"
    lines.append(
        f"updates   {switch}, {_text(updates.get('state'))} (source {_text(updates.get('source'))})"
        f"; last check {_text(updates.get('last_check'), 'never')}"
        f"; next check {_text(updates.get('next_check'), 'not scheduled')}"
    )
    versions = []
    for key in ("minimum", "suggested", "previous", "pending"):
        if updates.get(key) is not None:
            versions.append(f"{key} {_text(updates.get(key))}")
    if updates.get("quarantined"):
        versions.append(f"quarantined {_text(updates.get('quarantined'))}")
    if versions:
        lines.append("          " + ", ".join(versions))
    lines.append(f"          last error: {_text(updates.get('last_error'), 'none')}")

    dropped = logs.get("dropped_lines")
    lines.append(
        f"logs      {_text(logs.get('dir'))} ({humanize_bytes(logs.get('bytes'))}), "
        f"{_text(dropped)} dropped line{'' if dropped == 1 else 's'}"
    )
    return "\n".join(lines)
