"""Publisher-side rules for target names and channel files (docs/contract.md, Release repository).

Pure functions: they check the publisher's arguments and compute the next
``channels/<process>.json`` from the current one. Nothing here touches
files or keys.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nodekeeper.core.release.errors import ReleaseError, ReleaseUsageError
from nodekeeper.core.update.rollout import percent_to_cursor
from nodekeeper.core.update.version import Version

OS_NAMES = ("linux", "darwin", "windows", "freebsd")
ARCH_NAMES = ("amd64", "arm64", "arm")
_PROCESS = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_HEX32 = re.compile(r"[0-9a-f]{64}")


def parse_version(text: str) -> Version:
    try:
        return Version.parse(text)
    except ValueError:
        raise ReleaseUsageError(f"--version {text!r} is not a version like 1.2.3") from None


def parse_platform(text: str) -> tuple[str, str]:
    os_name, _, arch = text.partition("-")
    if os_name not in OS_NAMES or arch not in ARCH_NAMES:
        raise ReleaseUsageError(
            f"--platform {text!r} is not OS-ARCH with OS in {', '.join(OS_NAMES)} "
            f"and ARCH in {', '.join(ARCH_NAMES)} (e.g. linux-amd64)"
        )
    return os_name, arch


def check_process(name: str) -> str:
    if not _PROCESS.fullmatch(name):
        raise ReleaseUsageError(
            f"--process {name!r} must be lowercase letters, digits, '-', '_' or '.'"
        )
    return name


# The channel of nodekeeper's own core bundles (self-update).
CORE_PROCESS = "nodekeeper"


def artifact_suffix(process: str) -> str:
    """A node release is a zip; a core bundle is a .tar.gz or a .zip (read by content)."""
    return ".bundle" if process == CORE_PROCESS else ".zip"


def artifact_path(process: str, version: Version, os_name: str, arch: str) -> str:
    return f"{process}/{version}/{os_name}-{arch}{artifact_suffix(process)}"


def artifact_template(process: str, version: Version) -> str:
    return f"{process}/{version}/{{os}}-{{arch}}{artifact_suffix(process)}"


def channel_path(process: str) -> str:
    return f"channels/{process}.json"


def published_versions(target_paths: Iterable[str], process: str) -> set[str]:
    """Versions of ``process`` with at least one artifact in the repository."""
    found = set()
    for path in target_paths:
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == process and parts[2].endswith(artifact_suffix(process)):
            found.add(parts[1])
    return found


@dataclass(frozen=True)
class ChannelChange:
    minimum: str | None = None
    suggested: str | None = None
    rollout_percent: float | None = None
    seed: str | None = None
    revoke: tuple[str, ...] = ()
    force: bool = False


def next_channel(
    current: dict[str, Any] | None, process: str, change: ChannelChange, published: set[str]
) -> dict[str, Any]:
    """The channel after ``change``; fields not mentioned keep their value."""
    channel: dict[str, Any] = {
        "minimum": None,
        "suggested": None,
        "rollout": {"seed": secrets.token_hex(32), "cursor": "f" * 64},
        "revoked": [],
    }
    if current is not None:
        channel.update({k: current[k] for k in channel if k in current})
        channel["rollout"] = dict(channel["rollout"])
        channel["revoked"] = list(channel["revoked"])
    for role in ("minimum", "suggested"):
        text = getattr(change, role)
        if text is None:
            continue
        version = _version_arg(role, text)
        if str(version) not in published:
            raise ReleaseError(
                f"--{role} {version}: no {process} artifact of that version is published; "
                f"run release add --process {process} --version {version} first"
            )
        channel[role] = {"version": str(version), "url": artifact_template(process, version)}
    old = (current or {}).get("suggested")
    if change.suggested is not None and old and not change.force:
        before, after = Version.parse(old["version"]), _version_arg("suggested", change.suggested)
        if after < before:
            raise ReleaseError(
                f"--suggested {after} is lower than the current suggested {before}; "
                "to roll back, revoke the bad version (--revoke) or pass --force"
            )
    if channel["minimum"] and channel["suggested"]:
        low = Version.parse(channel["minimum"]["version"])
        high = Version.parse(channel["suggested"]["version"])
        if low > high:
            raise ReleaseError(f"--minimum {low} is higher than --suggested {high}")
    if change.seed is not None:
        if not _HEX32.fullmatch(change.seed):
            raise ReleaseUsageError("--seed must be 64 lowercase hex digits (32 bytes)")
        channel["rollout"]["seed"] = change.seed
    if change.rollout_percent is not None:
        pct = change.rollout_percent
        if not 0 <= pct <= 100:
            raise ReleaseUsageError(f"--rollout {pct} is not a percentage between 0 and 100")
        channel["rollout"]["cursor"] = percent_to_cursor(pct).hex()
    for text in change.revoke:
        revoked = str(_version_arg("revoke", text))
        if revoked not in channel["revoked"]:
            channel["revoked"].append(revoked)
    return channel


def encode_channel(channel: dict[str, Any]) -> bytes:
    return (json.dumps(channel, indent=2, sort_keys=True) + "\n").encode()


def _version_arg(option: str, text: str) -> Version:
    try:
        return Version.parse(text)
    except ValueError:
        raise ReleaseUsageError(f"--{option} {text!r} is not a version like 1.2.3") from None
