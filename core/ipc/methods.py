"""The control socket's methods, declared once (docs/contract.md, Control socket).

:data:`METHODS` is the one table of what a client may ask the core: each
method's name, whether it changes state (only clients allowed to control
may call those), its parameters with their types and bounds, a one-line
description, and how the ``nodekeeper`` CLI and the tray call it. Protocol
validation, the server's dispatch and authorisation, the client library,
the CLI commands and the tray all read it; adding or changing a method
means editing this table and registering its handler in ``core/control.py``.

Pure data: no I/O, no imports from the rest of the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_LOG_LINES = 10_000
# How long a client waits for a method that goes to the network (a release check).
SLOW_ANSWER_TIMEOUT = 180.0


class ParamError(ValueError):
    """A parameter value the method does not accept; the message names the parameter."""


@dataclass(frozen=True)
class Param:
    """One request parameter: a JSON boolean or a bounded integer."""

    name: str
    kind: type[bool] | type[int]
    help: str
    required: bool = False
    default: bool | int | None = None
    minimum: int | None = None
    maximum: int | None = None
    # A boolean given on the command line as an option (--name) rather than on|off.
    cli_flag: bool = False
    # That option's name when it is not --name.
    option: str | None = None

    def check(self, value: Any) -> bool | int:
        """``value`` if it fits this parameter; raise :class:`ParamError` naming what is wrong."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ParamError(f"{self.name!r} must be true or false (got {_short(value)})")
            return value
        in_bounds = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (self.minimum is None or value >= self.minimum)
            and (self.maximum is None or value <= self.maximum)
        )
        if not in_bounds:
            raise ParamError(
                f"{self.name!r} must be an integer{self._bounds()} (got {_short(value)})"
            )
        return int(value)

    def _bounds(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f" from {self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f" of at least {self.minimum}"
        if self.maximum is not None:
            return f" of at most {self.maximum}"
        return ""


@dataclass(frozen=True)
class Cli:
    """How the ``nodekeeper`` command line calls a method."""

    command: str  # nodekeeper <command>
    help: str
    # Printed on success by commands without output of their own.
    done: str = ""
    # Help of the command's --json option (the result as JSON); empty: no such option.
    json_help: str = ""
    # False: a module of its own registers the command (``logs`` also reads log files).
    generic: bool = True


@dataclass(frozen=True)
class MenuAction:
    """How the tray calls a method from its per-instance menu."""

    item: str  # the menu item's key (tray/wording.py builds the items)
    failure: str  # notification title after "<instance>: " when the core refuses
    # Fixed parameters the item sends besides its checked state (e.g. core=true).
    params: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    changes_state: bool  # needs a client that may control the core
    params: tuple[Param, ...] = ()
    # The server answers it itself (a snapshot, then events) instead of a core handler.
    streams: bool = False
    # The result is log lines, trimmed to the newest that fit in one response line.
    trims_lines: bool = False
    # It may wait on the network: clients allow it SLOW_ANSWER_TIMEOUT.
    slow: bool = False
    cli: Cli | None = None
    menu: MenuAction | None = None
    # A second menu item calling the same method with other fixed parameters.
    other_menu: MenuAction | None = None

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The checked parameters, defaults filled in; raise :class:`ParamError` otherwise."""
        known = {param.name for param in self.params}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ParamError(f"unknown parameter {_short(unknown[0])}")
        checked: dict[str, Any] = {}
        for param in self.params:
            if param.name in params:
                checked[param.name] = param.check(params[param.name])
            elif param.required:
                param.check(None)  # names the parameter and what it must be
            elif param.default is not None:
                # Without a default, an absent parameter stays absent: the handler's own
                # default applies, and handlers older than the parameter still answer.
                checked[param.name] = param.default
        return checked


def _table(*methods: Method) -> Mapping[str, Method]:
    return {method.name: method for method in methods}


METHODS: Mapping[str, Method] = _table(
    Method(
        "status",
        "the status object: node, updates, logs and limits (docs/contract.md, Status object)",
        changes_state=False,
        cli=Cli(
            "status",
            "show the node's and the core's state",
            json_help="print the status object as JSON",
        ),
    ),
    Method(
        "logs_tail",
        "the newest lines of the node's log, oldest first",
        changes_state=False,
        params=(
            Param(
                "lines",
                int,
                "how many lines",
                default=100,
                minimum=0,
                maximum=MAX_LOG_LINES,
            ),
        ),
        trims_lines=True,
        cli=Cli("logs", "print or follow the node's log", generic=False),
    ),
    Method(
        "subscribe",
        "a status snapshot, then every event the core publishes",
        changes_state=False,
        streams=True,
    ),
    Method(
        "set_updates",
        "switch automatic updates on or off (persisted), of the node (default), the core "
        "itself (core) or both",
        changes_state=True,
        params=(
            Param("enabled", bool, "on: install updates; off: only notify", required=True),
            Param(
                "core",
                bool,
                "switch the core's own updates (self-update)",
                cli_flag=True,
                option="--self",
            ),
            Param(
                "node",
                bool,
                "switch the node's updates (the default when neither is given)",
                cli_flag=True,
            ),
        ),
        cli=Cli("updates", "switch automatic updates on or off"),
        menu=MenuAction("updates", "could not change automatic updates"),
        other_menu=MenuAction(
            "self-updates", "could not change the core's automatic updates", (("core", True),)
        ),
    ),
    Method(
        "check_now",
        "check for an update now and act on the decision",
        changes_state=True,
        slow=True,
        params=(
            Param(
                "core",
                bool,
                "check for a new core (self-update) instead of a new node",
                cli_flag=True,
                option="--self",
            ),
        ),
        cli=Cli(
            "check",
            "check for an update now and print the decision",
            json_help="print the decision as JSON",
        ),
        menu=MenuAction("check", "check failed"),
    ),
    Method(
        "roll_back_core",
        "switch the core back to the version before it (the packaged core when there is "
        "none), handing the node over as a self-update does; quarantines the current version",
        changes_state=True,
        slow=True,
        params=(
            Param(
                "dry_run",
                bool,
                "say what would happen, change nothing",
                cli_flag=True,
            ),
        ),
        cli=Cli(
            "core-rollback",
            "switch the core back to the version before it; the node keeps running",
            json_help="print the answer as JSON",
        ),
    ),
    Method(
        "restart_node",
        "restart the node",
        changes_state=True,
        cli=Cli("restart", "restart the node", done="node restart requested"),
        menu=MenuAction("restart", "could not restart the node"),
    ),
    Method(
        "stop_node",
        "stop the node for maintenance and keep it stopped, across core restarts, "
        "until start_node; updates wait meanwhile",
        changes_state=True,
        cli=Cli(
            "stop",
            "stop the node (not the core) until 'nodekeeper start'",
            done="node stopped by operator; 'nodekeeper start' starts it again",
        ),
    ),
    Method(
        "start_node",
        "end the operator's maintenance stop: the node starts again",
        changes_state=True,
        cli=Cli("start", "start the node again after 'nodekeeper stop'", done="node started"),
    ),
    Method(
        "reload",
        "read the config file again: apply what can be applied live, list what needs a "
        "node or core restart; an invalid file changes nothing",
        changes_state=True,
        params=(
            Param(
                "restart_node",
                bool,
                "restart the node if a changed setting needs it",
                default=False,
                cli_flag=True,
            ),
        ),
        cli=Cli(
            "reload",
            "reload the core's config file (as SIGHUP does)",
            json_help="print the answer as JSON",
        ),
    ),
)


def menu_action(item: str) -> tuple[Method, MenuAction] | None:
    """The method a tray menu item calls and how, if it calls one."""
    for method in METHODS.values():
        for menu in (method.menu, method.other_menu):
            if menu is not None and menu.item == item:
                return method, menu
    return None


def for_menu_item(item: str) -> Method | None:
    """The method a tray menu item calls, if it calls one."""
    found = menu_action(item)
    return None if found is None else found[0]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
