"""Who may control the core (pure decision and credential decoding)."""

from __future__ import annotations

import struct

import pytest

from nodekeeper.core.ipc.peercred import (
    AccessPolicy,
    GroupEntry,
    PeerCredentials,
    UserEntry,
    may_control,
    parse_xucred,
)

CORE_UID = 999
GROUP = GroupEntry(gid=500, members=("alice",))


@pytest.mark.parametrize(
    ("peer", "user", "allowed"),
    [
        (PeerCredentials(uid=0, gid=0), None, True),
        (PeerCredentials(uid=CORE_UID, gid=1), None, True),
        (PeerCredentials(uid=1001, gid=1001), UserEntry("alice", 1001), True),  # supplementary
        (PeerCredentials(uid=1002, gid=500), UserEntry("bob", 1002), True),  # current gid
        (PeerCredentials(uid=1003, gid=1003), UserEntry("carol", 500), True),  # primary group
        (PeerCredentials(uid=1004, gid=4, groups=(4, 500)), None, True),  # kernel-reported groups
        (PeerCredentials(uid=1005, gid=1005), UserEntry("mallory", 1005), False),
        (PeerCredentials(uid=1006, gid=1006), None, False),
    ],
)
def test_only_root_core_user_and_group_members_may_control(
    peer: PeerCredentials, user: UserEntry | None, allowed: bool
) -> None:
    assert may_control(peer, core_uid=CORE_UID, group=GROUP, user=user) is allowed


def test_without_the_group_only_root_and_core_user_may_control() -> None:
    alice = UserEntry("alice", 500)
    assert not may_control(PeerCredentials(1001, 500), core_uid=CORE_UID, group=None, user=alice)
    assert may_control(PeerCredentials(CORE_UID, 500), core_uid=CORE_UID, group=None, user=alice)


def test_policy_looks_the_group_up_on_every_connection() -> None:
    groups: dict[str, GroupEntry] = {}
    policy = AccessPolicy(
        core_uid=CORE_UID,
        lookup_group=groups.get,
        lookup_user=lambda uid: UserEntry("alice", 1001) if uid == 1001 else None,
    )
    peer = PeerCredentials(uid=1001, gid=1001)
    assert not policy.can_control(peer)
    groups["nodekeeper"] = GROUP
    assert policy.can_control(peer)
    assert policy.control_gid() == 500


def test_xucred_is_decoded_with_its_groups() -> None:
    raw = struct.pack("IIh2x16I", 0, 501, 3, 20, 500, 12, *([0] * 13))
    assert parse_xucred(raw) == PeerCredentials(uid=501, gid=20, groups=(20, 500, 12))


def test_short_xucred_is_an_os_error() -> None:
    with pytest.raises(OSError):
        parse_xucred(b"\x00" * 8)
