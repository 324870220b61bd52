"""The systemd sandbox the core (and so the node) runs in.

Shared by the unit ``nodekeeper service install`` writes and the packaged
template unit (installers/linux/nodekeeper@.service), so both score the
same under ``systemd-analyze security`` (1.3 "OK"; docs/service.md lists
what is left out and why). Pure: turns paths into unit lines, no I/O.

The core runs as the unprivileged ``nodekeeper`` user with no capabilities;
its data, logs and socket folders are the only places it can write, which
systemd creates and hands to that user when they sit in /var/lib, /var/log
or /run (``StateDirectory=`` and friends) and which are opened with
``ReadWritePaths=`` elsewhere (the operator gives them to the user).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

SERVICE_USER = "nodekeeper"
# The core pings from its event loop every WatchdogSec/2 (platform/sdnotify.py).
WATCHDOG_SEC = 60
# With these, a core started as the service user finds the same default
# paths (/var/lib/nodekeeper/<instance>, /run/nodekeeper/<instance>.sock)
# as one started by root: what `service install` and the CLI expect.
DEFAULT_PATH_ENVIRONMENT = (("XDG_STATE_HOME", "/var/lib"), ("XDG_RUNTIME_DIR", "/run"))

# Every line is something `systemd-analyze security` asks for and that the
# core (Python) and a storage node (a Go binary) work with.
HARDENING = (
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "ProtectSystem=strict",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "PrivateMounts=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "ProtectProc=invisible",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "MemoryDenyWriteExecute=yes",
    "RemoveIPC=yes",
    "SystemCallFilter=@system-service",
    "SystemCallErrorNumber=EPERM",
    "SystemCallArchitectures=native",
    "UMask=0027",
)

# Folders systemd creates and gives to the service user, by where they sit.
_MANAGED = (
    ("/var/lib/", "StateDirectory"),
    ("/var/log/", "LogsDirectory"),
    ("/run/", "RuntimeDirectory"),
    ("/var/run/", "RuntimeDirectory"),
)
_HOMES = ("/home/", "/root/", "/run/user/")
_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


def quote_path(path: str) -> str:
    """One word of a path list (ReadWritePaths=, StateDirectory=): specifiers escaped."""
    escaped = path.replace("%", "%%")
    if _PLAIN.fullmatch(path):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def directory_lines(writable: Iterable[str]) -> list[str]:
    """``StateDirectory=``/``LogsDirectory=``/``RuntimeDirectory=``/``ReadWritePaths=`` lines.

    ``writable``: absolute folders the core and node must write (data, logs,
    the socket's folder, the node's workdir).
    """
    managed: dict[str, list[str]] = {}
    other: list[str] = []
    paths = list(dict.fromkeys(posixpath.normpath(p) for p in writable if p))
    # A folder inside another writable one needs no line of its own.
    paths = [p for p in paths if not any(p.startswith(q.rstrip("/") + "/") for q in paths)]
    for path in paths:
        for prefix, setting in _MANAGED:
            relative = path[len(prefix) :] if path.startswith(prefix) else ""
            if relative and ".." not in relative.split("/"):
                managed.setdefault(setting, []).append(relative)
                break
        else:
            other.append(path)
    lines = [
        f"{setting}={' '.join(quote_path(p) for p in paths)}" for setting, paths in managed.items()
    ]
    if "RuntimeDirectory" in managed:
        # Several instances share /run/nodekeeper: one stopping must not remove it.
        lines.append("RuntimeDirectoryPreserve=yes")
    if other:
        # "-": a folder that does not exist yet does not stop the service from starting.
        lines.append("ReadWritePaths=" + " ".join(quote_path("-" + p) for p in other))
    home = any(p.startswith(_HOMES) for p in other)
    # A folder under /home or /root stays writable only if home folders are visible at all.
    lines.append("ProtectHome=read-only" if home else "ProtectHome=yes")
    return lines


def user_lines(user: str) -> list[str]:
    return [f"User={user}", f"Group={user}"]
