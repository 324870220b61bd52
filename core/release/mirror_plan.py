"""What a mirror run of Storj's releases must fetch, check and publish.

Pure functions over plain values: the upstream channel (as
``nodekeeper.core.update.sources.storj`` parses the version server), what
the signed repository already holds, the requested platforms and the
operator's pinned hashes. The I/O shell (``mirror.py``) downloads what the
plan lists and hands the hashes back to :func:`judge`.

The rules kept here:

* The mirrored channel carries upstream's minimum, suggested, rollout seed
  and cursor and revocations unchanged, so a node on the ``tuf`` source
  decides exactly as one on the ``storj`` source. A lower suggested version
  is mirrored as is: the decision stays Storj's.
* Bytes once mirrored never change: upstream bytes that differ from a
  mirrored artifact are a refusal, never an update.
* Pinned hashes, when given, must match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nodekeeper.core.release.channels import artifact_path, artifact_template, parse_platform
from nodekeeper.core.release.errors import ReleaseUsageError
from nodekeeper.core.update.channel import Channel
from nodekeeper.core.update.sources.storj import expand_template
from nodekeeper.core.update.version import Version

# The platforms Storj builds storage nodes for that nodekeeper runs on.
DEFAULT_PLATFORMS = ("linux-amd64", "linux-arm64", "linux-arm", "windows-amd64")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Digest:
    sha256: str
    length: int


@dataclass(frozen=True)
class Wanted:
    """One artifact the mirrored channel needs."""

    version: str
    platform: str  # OS-ARCH
    url: str  # upstream download URL
    path: str  # TUF target path
    mirrored: Digest | None  # what the repository already holds under ``path``

    def describe(self) -> str:
        return f"{self.version} {self.platform}"


@dataclass(frozen=True)
class MirrorPlan:
    wanted: tuple[Wanted, ...]
    channel: dict[str, Any]
    channel_changed: bool

    @property
    def new(self) -> tuple[Wanted, ...]:
        return tuple(w for w in self.wanted if w.mirrored is None)


def parse_platforms(text: str) -> tuple[str, ...]:
    """``linux-amd64,windows-amd64`` → validated, deduplicated, in the given order."""
    platforms: list[str] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        parse_platform(item)
        if item not in platforms:
            platforms.append(item)
    if not platforms:
        raise ReleaseUsageError("--platforms names no platform (e.g. linux-amd64,windows-amd64)")
    return tuple(platforms)


def parse_pins(text: str, where: str) -> dict[str, str]:
    """``sha256sum`` lines naming target paths: ``<sha256>  storagenode/1.2.3/linux-amd64.zip``."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not _SHA256.fullmatch(parts[0].lower()):
            raise ReleaseUsageError(
                f"{where}:{number}: expected '<sha256>  storagenode/<version>/<os>-<arch>.zip'"
            )
        digest, path = parts[0].lower(), parts[1].lstrip("*")
        if pins.get(path, digest) != digest:
            raise ReleaseUsageError(f"{where}:{number}: {path} is pinned to two different hashes")
        pins[path] = digest
    return pins


def binary_name(platform: str) -> str:
    return "storagenode.exe" if platform.startswith("windows-") else "storagenode"


def mirrored_channel(upstream: Channel) -> dict[str, Any]:
    """The channel document of the mirror: upstream's, with target paths for URLs."""
    doc: dict[str, Any] = {}
    for role in ("minimum", "suggested"):
        release = getattr(upstream, role)
        doc[role] = (
            None
            if release is None
            else {
                "version": release.version,
                "url": artifact_template(upstream.process, Version.parse(release.version)),
            }
        )
    doc["rollout"] = {
        "seed": _rollout_hex(upstream.rollout.seed),
        "cursor": _rollout_hex(upstream.rollout.cursor),
    }
    doc["revoked"] = list(upstream.revoked)
    return doc


def _rollout_hex(value: bytes) -> str:
    # Storj writes an unset value as "" and means 32 zero bytes; say so explicitly.
    return (value or bytes(32)).hex()


def plan_mirror(
    upstream: Channel,
    platforms: Iterable[str],
    published: Mapping[str, Digest],
    current_channel: dict[str, Any] | None,
) -> MirrorPlan:
    """Every artifact of upstream's minimum and suggested versions, and the channel to publish."""
    releases = [r for r in (upstream.minimum, upstream.suggested) if r is not None]
    wanted: list[Wanted] = []
    seen: set[str] = set()
    for release in releases:
        version = Version.parse(release.version)
        for platform in platforms:
            os_name, arch = parse_platform(platform)
            path = artifact_path(upstream.process, version, os_name, arch)
            if path in seen:
                continue
            seen.add(path)
            url = expand_template(release.url, os_name, arch)
            wanted.append(Wanted(str(version), platform, url, path, published.get(path)))
    channel = mirrored_channel(upstream)
    return MirrorPlan(tuple(wanted), channel, channel != current_channel)


@dataclass(frozen=True)
class Refusal:
    """Why upstream's bytes for one artifact cannot be published."""

    wanted: Wanted
    got: Digest
    reason: str
    swapped: bool  # upstream changed the bytes of a mirrored version


def judge(wanted: Wanted, got: Digest, pins: Mapping[str, str]) -> Refusal | None:
    """None when ``got`` may be (or already is) published under ``wanted.path``."""
    if wanted.mirrored is not None and wanted.mirrored != got:
        return Refusal(
            wanted,
            got,
            f"upstream changed the bytes of mirrored storagenode {wanted.describe()}: "
            f"mirrored sha256 {wanted.mirrored.sha256} ({wanted.mirrored.length} bytes), "
            f"upstream now serves sha256 {got.sha256} ({got.length} bytes) at {wanted.url}",
            swapped=True,
        )
    pinned = pins.get(wanted.path)
    if pinned is not None and pinned != got.sha256:
        return Refusal(
            wanted,
            got,
            f"storagenode {wanted.describe()} from {wanted.url} has sha256 {got.sha256}, "
            f"not the pinned {pinned}",
            swapped=False,
        )
    return None
