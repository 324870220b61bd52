"""CLI commands that talk to a running core: `status`, `updates on|off`, `check`, `restart`.

There is one command per method of the table in
:mod:`nodekeeper.core.ipc.methods` that has a generic CLI use; its
parameters become arguments (a boolean one is ``on|off``). Each finds the
socket (``--socket PATH``, else ``--config FILE``'s ``paths.socket``, else
``--instance NAME``'s default socket, else ``$NODEKEEPER_CONFIG``'s, else
the default socket of instance "storagenode"; `status` with none of these
lists every core found instead), asks the core through
:class:`nodekeeper.core.ipc.client.Client` and prints the answer. The text forms are for people; ``--json`` prints the contract
objects of docs/contract.md (Command line, Status object) unchanged.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from nodekeeper.core.errors import OperationFailed, UsageError
from nodekeeper.core.ipc.client import Client
from nodekeeper.core.ipc.methods import METHODS, Method, Param
from nodekeeper.core.supervise.words import last_exit_sentence, progress_sentence

DECISION_ACTIONS = ("none", "update", "rollback", "notify")
# A boolean parameter on the command line: `nodekeeper updates on|off`.
SWITCH = ("on", "off")


def register(sub: Any) -> None:
    """A command for every method of the table whose CLI use is generic."""
    for method in METHODS.values():
        cli = method.cli
        if cli is None or not cli.generic:
            continue
        parser = sub.add_parser(cli.command, help=cli.help)
        for param in method.params:
            _add_param(parser, param)
        target_options(parser)
        if cli.json_help:
            parser.add_argument("--json", action="store_true", help=cli.json_help)
        parser.set_defaults(func=functools.partial(run_method, method))


def _add_param(parser: argparse.ArgumentParser, param: Param) -> None:
    if param.kind is bool and param.cli_flag:
        option = param.option or "--" + param.name.replace("_", "-")
        parser.add_argument(option, dest=param.name, action="store_true", help=param.help)
    elif param.kind is bool:
        parser.add_argument(param.name, choices=SWITCH, help=param.help)
    else:
        parser.add_argument(
            f"--{param.name}", type=int, default=param.default, metavar="N", help=param.help
        )


def target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--config", metavar="FILE", help="find the core's socket in this configuration"
    )
    where.add_argument("--socket", metavar="PATH", help="the core's control socket")
    where.add_argument(
        "--instance", metavar="NAME", help="the core of this instance (its default socket)"
    )


def targeted(args: argparse.Namespace) -> bool:
    """Whether the command line or NODEKEEPER_CONFIG names one core."""
    from nodekeeper.core.commands.cores import CONFIG_ENV

    named = args.socket or args.config or getattr(args, "instance", None)
    return bool(named or os.environ.get(CONFIG_ENV))


def socket_path(args: argparse.Namespace) -> str:
    """--socket, else --config's paths.socket, else --instance's default socket,
    else NODEKEEPER_CONFIG's paths.socket, else the default socket."""
    from nodekeeper.core.commands.cores import CONFIG_ENV
    from nodekeeper.core.paths import default_socket, valid_instance_name

    if args.socket:
        return str(args.socket)
    config = args.config or (None if args.instance else os.environ.get(CONFIG_ENV))
    if config:
        from nodekeeper.core.config import load_config

        return load_config(config).paths.socket
    if args.instance:
        if not valid_instance_name(args.instance):
            raise UsageError(f"--instance: {args.instance!r} is not a plain instance name")
        return default_socket(args.instance)
    return default_socket()


def _connect(args: argparse.Namespace) -> Client:
    return Client(socket_path(args))


def run_method(method: Method, args: argparse.Namespace) -> int:
    """Call ``method`` with the parameters from the command line and print the answer."""
    if method.name == "status" and not args.json and not targeted(args):
        from nodekeeper.core.commands.cores import list_cores

        return list_cores()
    params = {
        p.name: _param_value(p, getattr(args, p.name))
        for p in method.params
        # An option not given, of a parameter without a default, is not sent.
        if not (p.cli_flag and p.default is None and not getattr(args, p.name))
    }
    with _connect(args) as client:
        result = client.call(method.name, params or None)
        path = client.path
    printer = _PRINTERS.get(method.name)
    if printer is not None:
        printer(args, result, path)
    elif getattr(args, "json", False):
        print(json.dumps(result, indent=2))
    else:
        assert method.cli is not None
        print(method.cli.done or json.dumps(result))
    return 0


def _param_value(param: Param, value: Any) -> Any:
    if param.kind is bool and not param.cli_flag:
        return value == SWITCH[0]
    return value


def _print_status(args: argparse.Namespace, status: Any, path: str) -> None:
    if not isinstance(status, dict):
        raise OperationFailed("status: the core sent something that is not a status object")
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=False))
    else:
        print(format_status(status, path))


def _print_updates(args: argparse.Namespace, result: Any, _path: str) -> None:
    switch = args.enabled
    enabled = switch == SWITCH[0]
    if not isinstance(result, dict) or result.get("enabled") is not enabled:
        raise OperationFailed(f"updates {switch}: the core did not confirm the change")
    both = getattr(args, "core", False) and getattr(args, "node", False)
    if both:
        confirmed = result.get("self_update")
        if not isinstance(confirmed, dict) or confirmed.get("enabled") is not enabled:
            raise OperationFailed(f"updates {switch}: the core did not confirm the change")
    what = (
        "of the node and of the core itself"
        if both
        else "of the core itself"
        if getattr(args, "core", False)
        else ""
    )
    print(
        f"automatic updates {what + ' ' if what else ''}are {switch}"
        + ("" if enabled else " (checks still run and notify)")
    )


def _print_decision(args: argparse.Namespace, decision: Any, _path: str) -> None:
    problem = decision_problem(decision)
    if problem:
        raise OperationFailed(f"check: the core sent a bad decision ({problem})")
    if args.json:
        print(json.dumps({k: decision[k] for k in ("action", "target", "reason")}))
    else:
        print(format_decision(decision))


def _print_reload(args: argparse.Namespace, result: Any, _path: str) -> None:
    if not isinstance(result, dict) or not isinstance(result.get("summary"), str):
        raise OperationFailed("reload: the core sent an answer without a summary")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"reloaded: {result['summary']}")


# How a command shows its method's answer; others print the table's ``done`` text.
def _print_rollback(args: argparse.Namespace, result: Any, _path: str) -> None:
    if args.json:
        print(json.dumps(result, indent=2))
        return
    if not isinstance(result, dict):
        raise OperationFailed("core-rollback: the core sent something that is not an answer")
    pid = result.get("node_pid")
    node = f"the node (pid {pid}) keeps running" if pid else "no node runs"
    what = f"core {result.get('from')} back to core {result.get('to')}"
    if result.get("dry_run"):
        print(f"would switch {what}; {node}; {result.get('from')} would be quarantined")
    else:
        print(f"switching {what}; {node}; {result.get('from')} is quarantined")


_PRINTERS: dict[str, Callable[[argparse.Namespace, Any, str], None]] = {
    "status": _print_status,
    "set_updates": _print_updates,
    "check_now": _print_decision,
    "reload": _print_reload,
    "roll_back_core": _print_rollback,
}


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


def self_update_lines(self_update: Any) -> list[str]:
    """The core's own update state: one line, and its trouble on a second (absent: nothing)."""
    if not isinstance(self_update, dict):
        return []
    enabled = self_update.get("enabled")
    switch = "on" if enabled is True else "off" if enabled is False else "?"
    state = _text(self_update.get("state"))
    if self_update.get("state") == "unconfigured":
        where = "no release source"
    else:
        where = f"channel {_text(self_update.get('channel'))}, source {_text(self_update.get('source'))}"
    line = (
        f"core      {_text(self_update.get('current'))}, self-update {switch}, {state} ({where})"
        f"; latest {_text(self_update.get('latest'), 'unknown')}"
        f"; last check {_text(self_update.get('last_check'), 'never')}"
        f"; next check {_text(self_update.get('next_check'), 'not scheduled')}"
    )
    lines = [line]
    trying = self_update.get("trying")
    if isinstance(trying, dict):
        lines.append(
            f"          switching to {_text(trying.get('version'))} ({_text(trying.get('phase'))})"
        )
    if self_update.get("last_error"):
        lines.append(f"          last error: {_text(self_update.get('last_error'))}")
    return lines


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
    if node.get("stopped_by_operator") is True:
        node_bits[0] += " by operator ('nodekeeper start' starts it)"
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
    last_exit = node.get("last_exit")
    if isinstance(last_exit, dict):
        lines.append(f"          last exit: {last_exit_sentence(last_exit)}")
    elif last_exit is not None:
        lines.append(f"          last exit: {_text(last_exit)}")

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
    progress = progress_sentence(updates)
    if progress:
        lines.append(f"          {progress}")
    lines.append(f"          last error: {_text(updates.get('last_error'), 'none')}")
    failure = updates.get("last_failure")
    if isinstance(failure, dict) and failure.get("message") != updates.get("last_error"):
        lines.append(
            f"          last failure: {_text(failure.get('message'))}"
            f" ({_text(failure.get('time'))})"
        )
    if updates.get("node_id_source") is not None:
        lines.append(f"          rollout node id from: {_text(updates.get('node_id_source'))}")

    lines.extend(self_update_lines(status.get("self_update")))

    dropped = logs.get("dropped_lines")
    lines.append(
        f"logs      {_text(logs.get('dir'))} ({humanize_bytes(logs.get('bytes'))}), "
        f"{_text(dropped)} dropped line{'' if dropped == 1 else 's'}"
    )
    return "\n".join(lines)
