"""The channel: what every release source produces (docs/contract.md, Release repository).

A channel is, for one process, the ``minimum`` and ``suggested`` releases,
the gradual-rollout parameters and the revoked versions. Sources turn their
own wire format into a :class:`Channel`; one pure function decides what to
do with it (``nodekeeper.core.update.decision``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Release:
    version: str
    # A TUF target path or a web URL; may hold {os} and {arch} placeholders.
    url: str


@dataclass(frozen=True)
class Rollout:
    seed: bytes = b""
    # 32 bytes, big-endian; all zeros = nobody, all 0xff = everybody.
    cursor: bytes = bytes(32)


@dataclass(frozen=True)
class Channel:
    process: str
    minimum: Release | None
    suggested: Release | None
    rollout: Rollout = field(default_factory=Rollout)
    revoked: tuple[str, ...] = ()
