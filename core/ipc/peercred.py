"""Who is on the other end of a Unix socket, and may they control the core?

The decision, :func:`may_control`, is pure: it takes the peer's
credentials, the core's own uid and what the user and group databases say.
:class:`AccessPolicy` is the thin shell that asks the OS (``SO_PEERCRED``
on Linux, ``LOCAL_PEERCRED`` on macOS/BSD, ``pwd``/``grp``). Nothing here
reads or writes the socket's data.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

CONTROL_GROUP = "nodekeeper"


@dataclass(frozen=True)
class PeerCredentials:
    uid: int
    gid: int
    pid: int | None = None
    # Groups the kernel reported for the peer (macOS xucred); empty on Linux.
    groups: tuple[int, ...] = ()


@dataclass(frozen=True)
class GroupEntry:
    gid: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class UserEntry:
    name: str
    gid: int


def may_control(
    peer: PeerCredentials,
    *,
    core_uid: int,
    group: GroupEntry | None,
    user: UserEntry | None,
) -> bool:
    """Root, the core's own user and members of the control group may control.

    Membership counts when the group is the peer's current gid, one of the
    groups the kernel reported, the user's primary group in the user
    database, or the user is listed as a supplementary member.
    """
    if peer.uid in (0, core_uid):
        return True
    if group is None:
        return False
    if peer.gid == group.gid or group.gid in peer.groups:
        return True
    if user is None:
        return False
    return user.gid == group.gid or user.name in group.members


class _SocketOptions(Protocol):
    def getsockopt(self, level: int, option: int, buflen: int) -> bytes: ...


def peer_credentials(sock: _SocketOptions) -> PeerCredentials:
    """The connected peer's uid/gid/pid; raises OSError if the OS cannot tell."""
    if sys.platform.startswith("linux"):
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", raw)
        return PeerCredentials(uid=uid, gid=gid, pid=pid)
    return _xucred(sock)


# macOS / FreeBSD: struct xucred { u_int cr_version; uid_t cr_uid; short cr_ngroups;
# gid_t cr_groups[16]; } read with getsockopt(SOL_LOCAL=0, LOCAL_PEERCRED=1).
_SOL_LOCAL = 0
_LOCAL_PEERCRED = 1
_XUCRED = struct.Struct("IIh2x16I")


def _xucred(sock: _SocketOptions) -> PeerCredentials:
    raw = sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERCRED, _XUCRED.size)
    return parse_xucred(raw)


def parse_xucred(raw: bytes) -> PeerCredentials:
    """Decode a ``struct xucred`` (pure, so it is tested on every OS)."""
    if len(raw) < _XUCRED.size:
        raise OSError(f"LOCAL_PEERCRED returned {len(raw)} bytes, expected {_XUCRED.size}")
    _version, uid, ngroups, *groups = _XUCRED.unpack(raw[: _XUCRED.size])
    count = max(0, min(int(ngroups), len(groups)))
    gids = tuple(int(g) for g in groups[:count])
    return PeerCredentials(uid=int(uid), gid=gids[0] if gids else -1, groups=gids)


def _lookup_group(name: str) -> GroupEntry | None:
    if sys.platform == "win32":  # no group database; pipe clients are judged by their tokens
        return None
    import grp

    try:
        entry = grp.getgrnam(name)
    except KeyError:
        return None
    return GroupEntry(entry.gr_gid, tuple(entry.gr_mem))


def _lookup_user(uid: int) -> UserEntry | None:
    if sys.platform == "win32":
        return None
    import pwd

    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return None
    return UserEntry(entry.pw_name, entry.pw_gid)


class AccessPolicy:
    """Decides per connection, looking the databases up each time (group changes apply at once)."""

    def __init__(
        self,
        *,
        core_uid: int | None = None,
        group_name: str = CONTROL_GROUP,
        lookup_group: Callable[[str], GroupEntry | None] = _lookup_group,
        lookup_user: Callable[[int], UserEntry | None] = _lookup_user,
    ) -> None:
        if core_uid is None:
            # Windows has no uids; its pipe clients are judged from their tokens instead.
            core_uid = os.geteuid() if hasattr(os, "geteuid") else -1
        self.core_uid = core_uid
        self.group_name = group_name
        self._lookup_group = lookup_group
        self._lookup_user = lookup_user

    def can_control(self, peer: PeerCredentials) -> bool:
        if peer.uid in (0, self.core_uid):
            return True
        return may_control(
            peer,
            core_uid=self.core_uid,
            group=self._lookup_group(self.group_name),
            user=self._lookup_user(peer.uid),
        )

    def control_gid(self) -> int | None:
        group = self._lookup_group(self.group_name)
        return None if group is None else group.gid
