"""The update decision: what to do with a channel (docs/updates.md).

One pure function, :func:`decide`, turns (current version, channel, node
id, quarantined and installed versions, whether updates are on) into a
:class:`Decision`. Every source and the ``check`` command go through it,
so the rules live here and nowhere else:

1. current >= suggested: nothing to do.
2. current < minimum: go to minimum, or straight to suggested when the
   node is a rollout candidate (one jump, not two).
3. rollout candidate: go to suggested.
4. current is revoked: roll back to the highest version <= suggested that
   is neither revoked nor quarantined and is installed or published. This
   rule comes first: a revoked release must be left even when it is the
   newest one around.
5. a quarantined (failed probation) or revoked target is never chosen; a
   newer release is.
6. updates off: the same decision, reported as ``notify``.

No I/O, no clock: tests drive it with plain values.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from nodekeeper.core.update.channel import Channel
from nodekeeper.core.update.rollout import is_candidate
from nodekeeper.core.update.version import Version

Action = Literal["none", "update", "rollback", "notify"]


@dataclass(frozen=True)
class Decision:
    action: Action
    target: Version | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The object ``nodekeeper check --json`` prints."""
        return {
            "action": self.action,
            "target": None if self.target is None else str(self.target),
            "reason": self.reason,
        }


def is_rollout_candidate(channel: Channel, node_id: bytes) -> bool:
    return is_candidate(node_id, channel.rollout.seed, channel.rollout.cursor)


def decide(
    *,
    current: Version | None,
    channel: Channel,
    node_id: bytes,
    quarantined: Collection[Version],
    installed: Collection[Version],
    enabled: bool,
) -> Decision:
    decision = _decide(current, channel, node_id, frozenset(quarantined), frozenset(installed))
    if not enabled and decision.action in ("update", "rollback"):
        verb = "update" if decision.action == "update" else "rollback"
        return Decision(
            "notify", decision.target, f"{verb} due but updates are off: {decision.reason}"
        )
    return decision


def _parse(text: str, what: str) -> Version:
    try:
        return Version.parse(text)
    except ValueError:
        raise ValueError(f"channel {what} is not a version: {text!r}") from None


def _decide(
    current: Version | None,
    channel: Channel,
    node_id: bytes,
    quarantined: frozenset[Version],
    installed: frozenset[Version],
) -> Decision:
    suggested = _parse(channel.suggested.version, "suggested") if channel.suggested else None
    minimum = _parse(channel.minimum.version, "minimum") if channel.minimum else None
    revoked = frozenset(_parse(v, "revoked") for v in channel.revoked)
    excluded = quarantined | revoked

    if current is not None and current in revoked:
        return _leave_revoked(current, suggested, minimum, installed, excluded)

    if suggested is None:
        return Decision("none", None, "the channel suggests no version")

    if current is not None and current >= suggested:
        return Decision("none", None, f"{current} is up to date (suggested {suggested})")

    candidate = is_rollout_candidate(channel, node_id)
    below_minimum = current is None or (minimum is not None and current < minimum)

    if below_minimum:
        what = (
            "no version installed" if current is None else f"{current} is below minimum {minimum}"
        )
        choices: list[tuple[Version, str]] = []
        if candidate and (minimum is None or suggested >= minimum):
            choices.append((suggested, f"{what}; this node is a rollout candidate"))
        if minimum is not None:
            choices.append((minimum, what))
        elif current is None:
            # Nothing runs yet and no minimum is published: suggested is the only choice.
            choices.append((suggested, what))
        return _first_allowed(current, choices, excluded)

    if candidate:
        return _first_allowed(
            current,
            [(suggested, f"{suggested} is rolling out and this node is a candidate")],
            excluded,
        )
    return Decision("none", None, f"{suggested} is rolling out but has not reached this node yet")


def _first_allowed(
    current: Version | None,
    choices: list[tuple[Version, str]],
    excluded: frozenset[Version],
) -> Decision:
    skipped: list[Version] = []
    for target, reason in choices:
        if target in excluded:
            skipped.append(target)
            continue
        if current is not None and target <= current:
            continue
        if skipped:
            reason += f" ({', '.join(map(str, skipped))} failed or revoked, skipped)"
        return Decision("update", target, reason)
    if skipped:
        listed = ", ".join(map(str, skipped))
        return Decision(
            "none", None, f"{listed} failed probation or is revoked; waiting for a newer release"
        )
    return Decision("none", None, "nothing newer to install")


def _leave_revoked(
    current: Version,
    suggested: Version | None,
    minimum: Version | None,
    installed: frozenset[Version],
    excluded: frozenset[Version],
) -> Decision:
    published = {v for v in (suggested, minimum) if v is not None}
    options = [
        v
        for v in installed | published
        if v not in excluded and v != current and (suggested is None or v <= suggested)
    ]
    if not options:
        return Decision(
            "none", None, f"{current} is revoked but no other usable version is available"
        )
    target = max(options)
    action: Action = "rollback" if target < current else "update"
    return Decision(action, target, f"{current} is revoked")
