"""The core's own resource limits, raised once at start.

Every control connection, log file and pipe to the node costs an open
file; the distribution's default soft limit (often 1,024) is far below
what the hard limit allows, and running out stops health probes, log
writes and restarts alike. Raising the soft limit to the hard one needs
no privilege. The node inherits the raised limit.
"""

from __future__ import annotations

import logging
import sys

_log = logging.getLogger(__name__)

# What the core assumes where the OS has no such limit (Windows).
UNLIMITED_FALLBACK = 8192


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard limit; return the soft limit now in force."""
    if sys.platform == "win32":  # handles are not limited this way
        return UNLIMITED_FALLBACK
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        # Linux refuses an infinite soft limit for open files; a large one does.
        hard = max(soft, 1 << 20) if soft != resource.RLIM_INFINITY else soft
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(
                resource.RLIMIT_NOFILE, (hard, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
            )
            soft = hard
        except (OSError, ValueError) as exc:
            _log.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return UNLIMITED_FALLBACK if soft == resource.RLIM_INFINITY else int(soft)
