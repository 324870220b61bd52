"""Service specs for the plan tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from nodekeeper.core.startup.plan import ServiceSpec

BASE = ServiceSpec(
    instance="storagenode",
    config_path="/etc/nodekeeper/storagenode.toml",
    core_command=("/usr/local/bin/nodekeeper",),
    tray_command=("/usr/local/bin/nodekeeper-tray",),
    stop_timeout=30.0,
    memory_max=None,
    cpu_max=None,
    nice=None,
    logs_dir="/var/lib/nodekeeper/storagenode/logs",
    data_dir="/var/lib/nodekeeper/storagenode",
    socket_path="/run/nodekeeper/storagenode.sock",
)


def make_spec(**changes: Any) -> ServiceSpec:
    return replace(BASE, **changes)


# Paths an operator can really have: spaces, quotes, specifier and variable
# characters, backslashes, non-ASCII, XML and shell metacharacters.
AWKWARD_PATHS = [
    "/srv/my nodes/node 1.toml",
    "/srv/100%/cfg.toml",
    "/srv/$HOME/${USER}.toml",
    '/srv/say "hi"/it\'s.toml',
    "/srv/back\\slash/x.toml",
    "/srv/ünïcødé/节点.toml",
    "/srv/a&b<c>;d|e*f?g#h(i)`j~k/x.toml",
    "/srv/trailing space /x.toml",
]


# Any text without control characters (what a path in a service file may hold).
PRINTABLE = st.text(
    st.characters(min_codepoint=0x20, codec="utf-8", blacklist_characters="\x7f"), min_size=1
)
