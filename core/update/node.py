"""What the update cycle needs from the node it updates: a narrow interface.

The updater holds the node stopped while the ``current`` pointer moves,
releases it, waits for it to become healthy and reads its status; nothing
more. :class:`~nodekeeper.core.supervise.supervisor.Supervisor` satisfies
this protocol; unit tests use an in-memory fake.
"""

from __future__ import annotations

from typing import Any, Protocol


class NodeControl(Protocol):
    async def hold(self, reason: str) -> None:
        """Stop the node gracefully and keep it stopped until :meth:`release`."""
        ...

    async def release(self) -> None:
        """Start the node again."""
        ...

    async def wait_until_healthy(self, timeout: float) -> bool:
        """True once the node is running and healthy, False after ``timeout`` seconds."""
        ...

    def status(self) -> dict[str, Any]:
        """The ``node`` part of the status object (docs/contract.md, Status object)."""
        ...
