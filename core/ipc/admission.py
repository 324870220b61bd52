"""Who gets a control connection, and how long a quiet one may stay: pure decisions.

The socket is shared by trusted clients (root, the core's user, group
nodekeeper) and, where an operator opened it up, read-only local users.
None of them may exhaust the core's open files: connections are capped in
total, read-only users also per user, the last :attr:`Limits.reserved`
places are kept for trusted clients so that a read-only user's flood never
locks root out (trusted clients may hold many subscriptions: dashboards),
and a connection that says nothing is dropped (a client must send its
first request within :attr:`Limits.hello_timeout`; one that is not a
subscription must keep asking within :attr:`Limits.idle_timeout`).

Deciding whether a local user is in group nodekeeper may take a while
(the group database can be remote), and each connection waiting for that
answer holds an open file; so a user's connections count from the moment
they are accepted (:meth:`Admission.begin`), and a user who already has
its share open or waiting is refused at once, unless it was found
trusted moments ago.

The server's asyncio shell asks :class:`Admission` at every accepted
connection and hands it back when the connection ends; times are plain
seconds on a monotonic clock passed in. Nothing here touches a socket,
a clock or the log.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

# The key a connection is counted under when the OS cannot tell its user.
UNKNOWN_USER = -1


@dataclass(frozen=True)
class Limits:
    max_connections: int = 512
    max_per_user: int = 16  # for each read-only user
    reserved: int = 256  # of max_connections, only for trusted clients
    hello_timeout: float = 10.0
    idle_timeout: float = 300.0
    accept_retry_first: float = 0.1
    accept_retry_max: float = 5.0
    # How long a user found in group nodekeeper skips the per-user share of
    # connections still waiting for that answer.
    trust_remembered: float = 10.0

    def __post_init__(self) -> None:
        if not 0 <= self.reserved < self.max_connections or self.max_per_user < 1:
            raise ValueError("control socket limits: need 0 <= reserved < max_connections")

    @classmethod
    def for_open_files(cls, open_files: int) -> Limits:
        """Limits that leave at least half of ``open_files`` to the rest of the core."""
        total = max(8, min(cls.max_connections, open_files // 2))
        return cls(max_connections=total, reserved=min(cls.reserved, total // 2))


@dataclass(frozen=True)
class Refused:
    """No place for this connection: close it. ``report`` is true once per refusing streak."""

    reason: str
    report: bool


class Admission:
    """Open control connections, counted by user."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._by_user: Counter[int] = Counter()
        self._waiting: Counter[int] = Counter()  # accepted, trust not known yet
        self._trusted_until: dict[int, float] = {}
        self._refusing: set[int] = set()  # users already told about in the log

    @property
    def total(self) -> int:
        return sum(self._by_user.values()) + sum(self._waiting.values())

    def count(self, uid: int) -> int:
        return self._by_user[uid] + self._waiting[uid]

    def begin(self, uid: int, *, now: float) -> Refused | None:
        """A connection by ``uid`` whose trust is still to be found out: hold a place or refuse.

        Follow with :meth:`admit` (or :meth:`abandon` if it ends first).
        """
        trusted_recently = self._trusted_until.get(uid, float("-inf")) > now
        limits = self.limits
        if self.total >= limits.max_connections:
            return self._refuse(uid, f"{self.total} control connections open, the most allowed")
        if not trusted_recently and self.count(uid) >= limits.max_per_user:
            return self._refuse(
                uid, f"user {uid} has {self.count(uid)} control connections open, the most allowed"
            )
        self._waiting[uid] += 1
        return None

    def abandon(self, uid: int) -> None:
        """A connection after :meth:`begin` ended before :meth:`admit`."""
        self._drop(self._waiting, uid)

    def _refuse(self, key: int, reason: str) -> Refused:
        report = key not in self._refusing
        self._refusing.add(key)
        return Refused(reason, report)

    @staticmethod
    def _drop(counter: Counter[int], key: int) -> None:
        if counter[key] > 0:
            counter[key] -= 1
        if counter[key] == 0:
            del counter[key]

    def admit(self, uid: int | None, *, trusted: bool, now: float = 0.0) -> Refused | None:
        """Take a place for a connection by ``uid``, or say why not.

        Trusted clients count toward the total only, as does a connection
        whose user the OS cannot tell (``uid`` None: a Windows pipe client,
        judged from its token).
        """
        key = UNKNOWN_USER if uid is None else uid
        if uid is not None and self._waiting[uid] > 0:
            self._drop(self._waiting, uid)  # its place from begin() is taken again below
            if trusted:
                self._trusted_until[uid] = now + self.limits.trust_remembered
        limits = self.limits
        room = limits.max_connections if trusted else limits.max_connections - limits.reserved
        reason = None
        if self.total >= room:
            reason = f"{self.total} control connections open, the most allowed"
            if not trusted:
                reason += f" for users outside group nodekeeper ({limits.reserved} kept for it)"
        elif not trusted and uid is not None and self._by_user[key] >= limits.max_per_user:
            reason = (
                f"user {key} has {self._by_user[key]} control connections open, the most allowed"
            )
        if reason is not None:
            return self._refuse(key, reason)
        self._by_user[key] += 1
        return None

    def release(self, uid: int | None) -> None:
        """A connection admitted for ``uid`` has ended."""
        key = UNKNOWN_USER if uid is None else uid
        self._drop(self._by_user, key)
        self._refusing.discard(key)


def time_left(
    limits: Limits, *, now: float, since: float, asked: bool, subscribed: bool
) -> float | None:
    """Seconds a connection may stay quiet from ``now``; None when it may stay for good.

    ``since`` is when it connected or, once it has ``asked`` something,
    when its last request was answered. Subscribers wait for events, so
    they are never quiet too long.
    """
    if subscribed:
        return None
    limit = limits.idle_timeout if asked else limits.hello_timeout
    return max(0.0, since + limit - now)


def accept_retry_delay(limits: Limits, failures: int) -> float:
    """How long to stop accepting after ``failures`` accept errors in a row (EMFILE, ENFILE...)."""
    if failures <= 0:
        return 0.0
    delay = limits.accept_retry_first * 2 ** min(failures - 1, 16)
    return float(min(delay, limits.accept_retry_max))
