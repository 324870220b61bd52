"""Platform ids in Go's names, as release artifacts are named (``linux-amd64``).

Storj and the release layout (docs/contract.md) name artifacts
``<os>-<arch>.zip`` with Go's ``GOOS``/``GOARCH`` values. ``go_os`` and
``go_arch`` are pure mappings; ``current_*`` ask the running interpreter.

The architecture is the one the running Python was built for, not the
kernel's: a 32-bit userland on a 64-bit ARM kernel (common on Raspberry Pi)
must get the ``arm`` build.
"""

from __future__ import annotations

import platform
import struct
import sys

from nodekeeper.core.errors import NodekeeperError

GO_OSES = ("linux", "darwin", "windows", "freebsd")
GO_ARCHES = ("amd64", "arm64", "arm", "386")

_MACHINES_64 = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_MACHINES_32 = {"x86_64": "386", "amd64": "386", "aarch64": "arm", "arm64": "arm"}


class UnsupportedPlatform(NodekeeperError):
    """No release is built for this operating system or processor."""


def go_os(sys_platform: str) -> str:
    """Go's GOOS for a ``sys.platform`` value."""
    if sys_platform.startswith("linux"):
        return "linux"
    if sys_platform == "darwin":
        return "darwin"
    if sys_platform in ("win32", "cygwin"):
        return "windows"
    if sys_platform.startswith("freebsd"):
        return "freebsd"
    raise UnsupportedPlatform(
        f"unsupported operating system {sys_platform!r} (releases exist for {', '.join(GO_OSES)})"
    )


def go_arch(machine: str, pointer_bits: int) -> str:
    """Go's GOARCH for ``platform.machine()`` and the interpreter's pointer width."""
    name = machine.strip().lower()
    table = _MACHINES_64 if pointer_bits == 64 else _MACHINES_32
    if name in table:
        return table[name]
    if name.startswith("arm"):  # armv6l, armv7l, armv8l (32-bit userland)
        return "arm"
    if name in ("i386", "i486", "i586", "i686", "x86"):
        return "386"
    raise UnsupportedPlatform(
        f"unsupported processor {machine!r} (releases exist for {', '.join(GO_ARCHES)})"
    )


def current_os() -> str:
    return go_os(sys.platform)


def current_arch() -> str:
    return go_arch(platform.machine(), struct.calcsize("P") * 8)


def platform_id() -> str:
    """``<os>-<arch>`` of the running interpreter, e.g. ``linux-amd64``."""
    return f"{current_os()}-{current_arch()}"
