"""The LaunchDaemon that starts the core at boot (macOS).

The property list is built as a dict and serialised with :mod:`plistlib`,
so every path is XML-escaped correctly whatever it contains. Pure: nothing
here runs ``launchctl``; the returned registration lists the commands.
"""

from __future__ import annotations

import plistlib
import re
from typing import Any

from nodekeeper.core.startup.model import Command, PlannedFile, Registration, ServiceSpec

DAEMON_DIR = "/Library/LaunchDaemons"
THROTTLE_INTERVAL_S = 5

_DAEMON_FILE = re.compile(r"org\.nodekeeper\.(?P<instance>[A-Za-z0-9._-]{1,64})\.plist")


def daemon_label(instance: str) -> str:
    return f"org.nodekeeper.{instance}"


def daemon_path(instance: str) -> str:
    return f"{DAEMON_DIR}/{daemon_label(instance)}.plist"


def instance_of_daemon(file_name: str) -> str | None:
    match = _DAEMON_FILE.fullmatch(file_name)
    if match is None or match.group("instance") == "tray":
        return None
    return match.group("instance")


def stderr_path(spec: ServiceSpec) -> str:
    """Where launchd puts what the core prints before its own log is open (tracebacks)."""
    return f"{spec.logs_dir.rstrip('/')}/nodekeeper-{spec.instance}.stderr.log"


def daemon_plist(spec: ServiceSpec) -> dict[str, Any]:
    environment = {"PYTHONUNBUFFERED": "1"}
    plist: dict[str, Any] = {
        "Label": daemon_label(spec.instance),
        "ProgramArguments": list(spec.run_command),
        "RunAtLoad": True,
        "KeepAlive": True,
        # launchd's pause between restarts of a core that exited.
        "ThrottleInterval": THROTTLE_INTERVAL_S,
        # SIGTERM reaches the core, which stops the node within node.stop_timeout.
        "ExitTimeOut": spec.stop_timeout_s,
        "EnvironmentVariables": environment,
        "StandardOutPath": stderr_path(spec),
        "StandardErrorPath": stderr_path(spec),
        "ProcessType": "Standard",
    }
    if spec.nice is not None:
        plist["Nice"] = spec.nice
    return plist


def render(plist: dict[str, Any]) -> bytes:
    return plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=True)


def daemon_registration(spec: ServiceSpec) -> Registration:
    label = daemon_label(spec.instance)
    path = daemon_path(spec.instance)
    target = f"system/{label}"
    return Registration(
        what=f"core service {label}",
        files=(PlannedFile(path, render(daemon_plist(spec))),),
        install=(
            # A loaded daemon keeps its old definition until it is booted out.
            Command(("launchctl", "bootout", target), ok_codes=None, only_if_changed=True),
            Command(("launchctl", "enable", target)),
            # 5 (EIO) and 37 mean "already loaded": the unchanged daemon is running.
            Command(("launchctl", "bootstrap", "system", path), ok_codes=frozenset({0, 5, 37})),
        ),
        uninstall=(Command(("launchctl", "bootout", target), ok_codes=None),),
        status=(Command(("launchctl", "print", target), ok_codes=None, show_line_with="state ="),),
    )
