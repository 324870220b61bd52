"""What a starting core does with a switch that a crash interrupted.

Pure: given the state and the versions on disk, say which version the node
must run and whether the interrupted switch still needs its probation.

A switch is recorded (``pending``) before the node is stopped, and the
pointer ``current`` moves only after that. So on start:

* ``current`` is the new version and it is installed: the switch happened
  but probation never finished: run it again, then commit or roll back;
* otherwise the switch did not happen (or cannot be finished): go back to
  the old version and forget the switch; the next check may try again;
* without a pending switch, a ``current`` that is missing on disk (deleted
  by hand or by an anti-virus) falls back to ``previous``, else the newest
  installed version.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from nodekeeper.core.state import State
from nodekeeper.core.update.version import Version

Action = Literal["none", "resume-probation", "reverted", "fell-back"]


@dataclass(frozen=True)
class Recovery:
    action: Action
    changes: dict[str, Any]
    message: str


def _newest(versions: Collection[str]) -> str | None:
    def key(v: str) -> tuple[int, Version | None]:
        try:
            return (1, Version.parse(v))
        except ValueError:
            return (0, None)

    valid = [v for v in versions if key(v)[0]]
    return max(valid, key=lambda v: Version.parse(v)) if valid else None


def recover(state: State, installed: Collection[str]) -> Recovery:
    pending = state.pending
    if pending is not None:
        new, old = pending.get("to"), pending.get("from")
        if state.current == new and new in installed:
            return Recovery("resume-probation", {}, f"resuming the probation of {new}")
        if old is not None and old in installed:
            return Recovery(
                "reverted",
                {"current": old, "pending": None},
                f"the switch to {new} was interrupted; staying on {old}",
            )
        fallback = state.current if state.current in installed else _newest(installed)
        return Recovery(
            "reverted",
            {"current": fallback, "pending": None},
            f"the switch to {new} was interrupted; {_running(fallback)}",
        )
    if state.current is None or state.current in installed:
        return Recovery("none", {}, "")
    fallback = state.previous if state.previous in installed else _newest(installed)
    return Recovery(
        "fell-back",
        {"current": fallback},
        f"version {state.current} is missing on disk; {_running(fallback)}",
    )


def _running(version: str | None) -> str:
    return f"running {version}" if version else "no other version is installed"
