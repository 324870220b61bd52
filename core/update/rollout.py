"""Gradual rollout, computed exactly as Storj's version server and updater do.

A channel's rollout is a 32-byte ``seed`` and a 32-byte ``cursor``. A node
is a candidate for the suggested version when
``HMAC-SHA256(key=seed, msg=node_id) <= cursor`` compared as 32-byte
big-endian numbers. Every node hashes to a uniform point in [0, 2^256), so
moving the cursor up lets a growing, stable share of the fleet update; a
new seed reshuffles who goes first. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac

ROLLOUT_BYTES = 32
_MAX = (1 << (8 * ROLLOUT_BYTES)) - 1
# Storj divides the range into millionths of the whole (percent with four
# decimals) before multiplying, so the cursor moves in steps of this size.
_STEP = _MAX // 1_000_000


def is_candidate(node_id: bytes, seed: bytes, cursor: bytes) -> bool:
    """Whether a node takes part in the rollout described by ``seed``/``cursor``.

    An empty ``seed`` or ``cursor`` stands for 32 zero bytes (Storj's JSON
    encoding of an unset value is ``""``).
    """
    key = _as_rollout_bytes(seed, "seed")
    limit = _as_rollout_bytes(cursor, "cursor")
    digest = hmac.new(key, node_id, hashlib.sha256).digest()
    return digest <= limit


def percent_to_cursor(pct: float) -> bytes:
    """The cursor that lets ``pct`` percent of all nodes update.

    ``floor((2^256-1) / 10^6) * int(pct * 10^4)`` for 0 < pct < 100, all
    zeros at 0 and below, all 0xff at 100 and above, as Storj's
    ``PercentageToCursorF`` computes it. (Storj then copies the big-endian
    number into the array left-aligned, which scales cursors below
    0.390625 % up by 256; here the number is always right-aligned, so a
    small percentage means what it says.)
    """
    if pct != pct:  # NaN
        raise ValueError("rollout percentage is not a number")
    if pct <= 0:
        return bytes(ROLLOUT_BYTES)
    if pct >= 100:
        return b"\xff" * ROLLOUT_BYTES
    return (_STEP * int(pct * 10_000)).to_bytes(ROLLOUT_BYTES, "big")


def cursor_to_percent(cursor: bytes) -> float:
    """The share of nodes (0-100) a cursor lets through, for display."""
    limit = _as_rollout_bytes(cursor, "cursor")
    return int.from_bytes(limit, "big") * 100 / _MAX


def _as_rollout_bytes(value: bytes, name: str) -> bytes:
    if len(value) == 0:
        return bytes(ROLLOUT_BYTES)
    if len(value) != ROLLOUT_BYTES:
        raise ValueError(f"rollout {name} must be {ROLLOUT_BYTES} bytes, got {len(value)}")
    return bytes(value)
