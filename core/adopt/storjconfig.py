"""The storage node's own settings: its ``config.yaml`` and its command-line flags.

``storagenode setup`` writes ``config.yaml`` as flat ``key: value`` lines
with comments; that subset is all this reads (no YAML library needed). A
flag on the command line wins over the file, as in the node. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

CONFIG_FILE = "config.yaml"
DEFAULT_CONSOLE_ADDRESS = "127.0.0.1:14002"
_LINE = re.compile(r"^([A-Za-z0-9_.-]+)\s*:\s*(.*?)\s*$")


def parse_config_yaml(text: str) -> dict[str, str]:
    """Every top-level ``key: value`` of the file, quotes removed, comments skipped."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line[0] in " \t#-":
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        key, value = match.groups()
        if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def flag_value(args: Sequence[str], name: str) -> str | None:
    """The value of ``--name V`` or ``--name=V`` in ``args`` (the last one wins)."""
    found = None
    for i, arg in enumerate(args):
        if arg == f"--{name}" and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(f"--{name}="):
            found = arg.split("=", 1)[1]
    return found


def without_flag(args: Sequence[str], name: str) -> list[str]:
    """``args`` with every ``--name V`` / ``--name=V`` removed."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == f"--{name}":
            skip = True
            continue
        if arg.startswith(f"--{name}="):
            continue
        out.append(arg)
    return out


def setting(args: Sequence[str], config: Mapping[str, str], key: str) -> str | None:
    """A node setting as the node sees it: its flag, else config.yaml."""
    value = flag_value(args, key)
    return value if value is not None else config.get(key)


def health_url(console_address: str | None) -> str:
    """The dashboard's API from ``console.address``: a wildcard host is reached on loopback."""
    address = console_address or DEFAULT_CONSOLE_ADDRESS
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::", "localhost"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port or '14002'}/api/sno"
