"""Which instance a piece of work is for, in a core process serving several (core/instances.py).

The core's own log (core/logs/corelog.py) routes each record to the log of
the instance in whose context it was made. Tasks inherit the context from
the task that creates them; threads begin with an empty one, so the log
threads an instance starts are started with :func:`in_this_context`.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable

# The instance whose work is logging, in a process serving several
# (core/instances.py runs each instance's tasks in a context that sets it).
# None: a process-wide record (or a thread no instance started), which goes
# to every instance's log.
INSTANCE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "nodekeeper_instance", default=None
)


def in_this_context(target: Callable[..., None]) -> Callable[..., None]:
    """``target`` run in a copy of the calling context: a thread started with it logs for the
    instance that started it (a thread begins in an empty context otherwise)."""
    return functools.partial(contextvars.copy_context().run, target)
