"""Which installed versions to delete after a successful update. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from nodekeeper.core.update.version import Version


def versions_to_remove(
    installed: Iterable[str], *, current: str | None, previous: str | None, keep_versions: int
) -> list[str]:
    """The installed versions beyond ``keep_versions``, oldest first to go.

    ``current`` and ``previous`` are always kept (the previous one is the
    way back if the current version turns bad later); the remaining places
    go to the newest versions.
    """
    installed = list(installed)
    # Only versions on disk take a place: a previous version that is gone
    # must not cost the operator one of the kept ones.
    keep = {v for v in (current, previous) if v and v in installed}
    for version in sorted(installed, key=Version.parse, reverse=True):
        if len(keep) >= keep_versions:
            break
        keep.add(version)
    return [v for v in installed if v not in keep]
