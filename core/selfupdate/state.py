"""What the core remembers about updating itself: the ``self_update`` key of state.json.

Same rules as the rest of state.json (core/state.py): values are checked
when built, so a damaged file is refused with one line naming the bad key,
and only this key's own fields are known here. ``current`` is the
installed core version the launcher runs, ``previous`` is kept for a
rollback, ``trying`` is a switch not yet committed (None everywhere means
the core that came with the package).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PHASES = ("handing-over", "on-probation")


@dataclass(frozen=True)
class Trying:
    """A switch to a new core in progress or on probation, not committed yet."""

    version: str
    previous: str | None
    started: str  # ISO time (events.utc_now_iso)
    phase: str  # one of PHASES

    def __post_init__(self) -> None:
        _check_version("trying.version", self.version)
        _check_version("trying.previous", self.previous, optional=True)
        if not isinstance(self.started, str) or not self.started:
            raise ValueError(f"'trying.started' must be an ISO time string, got {self.started!r}")
        if self.phase not in PHASES:
            raise ValueError(
                f"'trying.phase' must be one of {', '.join(PHASES)}, got {self.phase!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "previous": self.previous,
            "started": self.started,
            "phase": self.phase,
        }

    @classmethod
    def from_dict(cls, data: object) -> Trying:
        if not isinstance(data, dict):
            raise ValueError(f"'trying' must be an object or null, got {data!r}")
        return cls(
            version=data.get("version"),  # type: ignore[arg-type]  # checked in __post_init__
            previous=data.get("previous"),
            started=data.get("started"),  # type: ignore[arg-type]
            phase=data.get("phase"),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class SelfUpdateState:
    current: str | None = None  # installed core version the launcher runs; None = packaged core
    previous: str | None = None  # kept for rollback; None = the packaged core
    trying: Trying | None = None
    quarantined: tuple[str, ...] = ()
    updates_enabled: bool | None = None  # `updates off --self`; None follows [self_update] enabled
    last_check: float | None = None
    next_check: float | None = None
    last_failure: Mapping[str, Any] | None = None  # {"version", "reason", "time"}
    # Starts of ``current`` by the launcher step since it last came up (core/selfupdate/launcher.py).
    start_attempts: int = 0
    # Fields written by a newer nodekeeper, kept untouched.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_version("current", self.current, optional=True)
        _check_version("previous", self.previous, optional=True)
        if self.trying is not None and not isinstance(self.trying, Trying):
            raise ValueError(f"'trying' must be an object or null, got {self.trying!r}")
        if not isinstance(self.quarantined, tuple):
            raise ValueError(f"'quarantined' must be a list of versions, got {self.quarantined!r}")
        for version in self.quarantined:
            _check_version("quarantined", version)
        if self.updates_enabled is not None and not isinstance(self.updates_enabled, bool):
            raise ValueError(
                f"'updates_enabled' must be true, false or null, got {self.updates_enabled!r}"
            )
        for name in ("last_check", "next_check"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, int | float) or isinstance(value, bool)
            ):
                raise ValueError(f"{name!r} must be a time in seconds or null, got {value!r}")
        _check_failure(self.last_failure)
        if (
            not isinstance(self.start_attempts, int)
            or isinstance(self.start_attempts, bool)
            or self.start_attempts < 0
        ):
            raise ValueError(
                f"'start_attempts' must be a count of at least 0, got {self.start_attempts!r}"
            )
        if not isinstance(self.extra, Mapping) or _KNOWN & set(self.extra):
            raise ValueError("'extra' must hold only keys this version does not know")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data.update(
            current=self.current,
            previous=self.previous,
            trying=None if self.trying is None else self.trying.to_dict(),
            quarantined=list(self.quarantined),
            updates_enabled=self.updates_enabled,
            last_check=self.last_check,
            next_check=self.next_check,
            last_failure=None if self.last_failure is None else dict(self.last_failure),
        )
        if self.start_attempts:  # written only when set, so older files read the same
            data["start_attempts"] = self.start_attempts
        return data

    @classmethod
    def from_dict(cls, data: object) -> SelfUpdateState:
        """The value of state.json's ``self_update``; ValueError names the bad key."""
        if not isinstance(data, dict):
            raise ValueError(f"expected an object, got {data!r}")
        quarantined = data.get("quarantined", [])
        if not isinstance(quarantined, list):
            raise ValueError(f"'quarantined' must be a list of versions, got {quarantined!r}")
        trying = data.get("trying")
        return cls(
            current=data.get("current"),
            previous=data.get("previous"),
            trying=None if trying is None else Trying.from_dict(trying),
            quarantined=tuple(quarantined),
            updates_enabled=data.get("updates_enabled"),
            last_check=data.get("last_check"),
            next_check=data.get("next_check"),
            last_failure=data.get("last_failure"),
            start_attempts=data.get("start_attempts", 0),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )


_KNOWN = frozenset(
    {
        "current",
        "previous",
        "trying",
        "quarantined",
        "updates_enabled",
        "last_check",
        "next_check",
        "last_failure",
        "start_attempts",
    }
)


def _check_version(name: str, value: object, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name!r} must hold version strings, got {value!r}")


def _check_failure(failure: object) -> None:
    if failure is None:
        return
    if not isinstance(failure, Mapping):
        raise ValueError(f"'last_failure' must be an object or null, got {failure!r}")
    for key in ("version", "reason", "time"):
        if not isinstance(failure.get(key), str):
            raise ValueError(f"'last_failure.{key}' must be a string, got {failure.get(key)!r}")
