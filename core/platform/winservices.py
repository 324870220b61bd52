"""Asking the Windows Service Control Manager about a service, through ``sc.exe``.

The one place `nodekeeper init` learns about Windows services: it runs
``sc.exe qc NAME`` and ``sc.exe query NAME`` through the command runner it
is given (tests give a stand-in) and leaves the reading of the output to
:mod:`nodekeeper.core.adopt.windows`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nodekeeper.core.adopt.windows import WindowsService, parse_service

ERROR_SERVICE_DOES_NOT_EXIST = 1060

# argv -> (exit code, output)
ScRunner = Callable[[Sequence[str]], tuple[int, str]]


def query_service(name: str, run: ScRunner) -> WindowsService | None:
    """The service's command, start type, account and state; None when it does not exist."""
    code, config = run(("sc.exe", "qc", name))
    if code == ERROR_SERVICE_DOES_NOT_EXIST or (code != 0 and "1060" in config):
        return None
    if code != 0:
        return None
    _, state = run(("sc.exe", "query", name))
    return parse_service(name, config, state)
