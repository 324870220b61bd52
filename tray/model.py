"""What the tray knows about each core and shows for it (pure), in one import.

The model lives in three modules, one per job:
:mod:`~nodekeeper.tray.status` validates status objects (docs/contract.md, Status object),
:mod:`~nodekeeper.tray.instance` holds the immutable :class:`InstanceModel`
fed by hellos, statuses and events (§8) and its icon state, and
:mod:`~nodekeeper.tray.wording` derives the status line, tooltip, menu items
and notifications. None of them touches Qt, sockets or a clock.
"""

from __future__ import annotations

from nodekeeper.core.supervise.words import duration as format_uptime
from nodekeeper.tray.instance import (
    Connection,
    IconState,
    InstanceModel,
    UpdateProgress,
    icon_state,
    overall_icon_state,
)
from nodekeeper.tray.status import (
    NODE_STATES,
    UPDATE_STATES,
    BadStatus,
    NodeStatus,
    parse_status,
    version_key,
)
from nodekeeper.tray.wording import (
    READ_ONLY_HINT,
    MenuItem,
    attention_reason,
    instance_items,
    notification_for_event,
    status_line,
    tooltip,
    unreachable_notification,
)

__all__ = [
    "NODE_STATES",
    "READ_ONLY_HINT",
    "UPDATE_STATES",
    "BadStatus",
    "Connection",
    "IconState",
    "InstanceModel",
    "MenuItem",
    "NodeStatus",
    "UpdateProgress",
    "attention_reason",
    "format_uptime",
    "icon_state",
    "instance_items",
    "notification_for_event",
    "overall_icon_state",
    "parse_status",
    "status_line",
    "tooltip",
    "unreachable_notification",
    "version_key",
]
