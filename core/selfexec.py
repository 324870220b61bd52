"""How nodekeeper starts a part of itself in a child process, frozen or not.

From a Python install a child runs as ``<python> -m <module>``; inside a
self-contained bundle (PyInstaller) ``sys.executable`` is the bundle's own
``nodekeeper`` executable and there is no Python to give ``-m`` to, so the
bundle's entry point (:func:`bundle_main`) takes a module to run after
:data:`RUN_MODULE_FLAG`. Every place that starts nodekeeper code in a new
process asks :func:`module_command` instead of naming ``sys.executable``.
This module never starts anything itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

CORE_MODULE = "nodekeeper.core"
DEMO_NODE_MODULE = "nodekeeper.core.demo.node"
GUARD_MODULE = "nodekeeper.core.selfupdate.guard"
# Only the bundle's entry point reads it; it is not part of the `nodekeeper` CLI.
RUN_MODULE_FLAG = "--nodekeeper-run-module"
RUNNABLE_MODULES = (CORE_MODULE, DEMO_NODE_MODULE, GUARD_MODULE)


def is_frozen() -> bool:
    """True inside a self-contained bundle, where no Python interpreter is at hand."""
    return bool(getattr(sys, "frozen", False))


def module_command(module: str, *, frozen: bool | None = None) -> tuple[str, ...]:
    """The argv prefix that runs ``module`` as ``__main__`` in a new process."""
    if module not in RUNNABLE_MODULES:
        raise ValueError(f"{module} cannot be started as a process")
    frozen = is_frozen() if frozen is None else frozen
    if not frozen:
        return (sys.executable, "-m", module)
    if module == CORE_MODULE:
        return (sys.executable,)
    return (sys.executable, RUN_MODULE_FLAG, module)


def bundle_main(argv: Sequence[str]) -> int:
    """The bundle executable's entry point: the `nodekeeper` CLI, or a module it asked for."""
    if len(argv) >= 2 and argv[0] == RUN_MODULE_FLAG and argv[1] == DEMO_NODE_MODULE:
        from nodekeeper.core.demo import node

        # As `python -m` would: exit at once, past daemon threads stuck in a hang.
        node._exit(node.main(list(argv[2:])))
        return 0
    if len(argv) >= 2 and argv[0] == RUN_MODULE_FLAG and argv[1] == GUARD_MODULE:
        from nodekeeper.core.selfupdate import guard

        return guard.main(list(argv[2:]))
    from nodekeeper.core.cli import main

    return main(list(argv))
