"""The CLI and tray trust a named pipe only when a nodekeeper service (or the user) serves it.

Driven through a stand-in for the Win32 calls; the ctypes bindings need Windows.
"""

from __future__ import annotations

import pytest

from nodekeeper.core.errors import CoreUnreachable
from nodekeeper.core.platform.winpipe import ADMINISTRATORS_SID, SYSTEM_SID, pipe_name
from nodekeeper.core.platform.winpipe_owner import (
    PipeServer,
    UntrustedPipeServer,
    check_pipe_server,
    service_account_sid,
    service_name_of,
    trusted_server,
)

PIPE = pipe_name("storagenode")
ME = "S-1-5-21-1-2-3-1001"
OTHER_USER = "S-1-5-21-1-2-3-1002"


def test_service_account_sid_is_computed_as_windows_does() -> None:
    # `sc showsid TrustedInstaller` prints this SID on every Windows.
    assert service_account_sid("TrustedInstaller") == (
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
    )
    assert service_account_sid("trustedinstaller") == service_account_sid("TrustedInstaller")


def test_a_core_pipe_is_named_after_its_service() -> None:
    assert service_name_of(PIPE) == "nodekeeper-storagenode"
    assert service_name_of("/run/nodekeeper/storagenode.sock") == ""


@pytest.mark.parametrize(
    ("server", "trusted"),
    [
        (PipeServer(4, SYSTEM_SID, False), True),
        (PipeServer(4, ADMINISTRATORS_SID, False), True),  # the pipe's owner, elevated admin
        (PipeServer(4, OTHER_USER, True), True),  # an elevated administrator's core
        (PipeServer(4, ME, False), True),  # a core this user started
        (PipeServer(4, service_account_sid("nodekeeper-storagenode"), False), True),
        (PipeServer(4, service_account_sid("nodekeeper-other"), False), False),
        (PipeServer(4, OTHER_USER, False), False),  # another ordinary user squatting the name
    ],
)
def test_who_may_serve_a_core_pipe(server: PipeServer, trusted: bool) -> None:
    assert trusted_server(server, own_sid=ME, pipe_path=PIPE) is trusted


class Owners:
    """PipeOwnerApi stand-in."""

    def __init__(self, server: PipeServer | OSError) -> None:
        self.server = server
        self.handles: list[int] = []

    def own_user_sid(self) -> str:
        return ME

    def pipe_server(self, handle: int) -> PipeServer:
        self.handles.append(handle)
        if isinstance(self.server, OSError):
            raise self.server
        return self.server


def test_a_service_pipe_passes_the_check() -> None:
    api = Owners(PipeServer(812, SYSTEM_SID, False))
    check_pipe_server(PIPE, 77, api)
    assert api.handles == [77]


def test_a_pipe_served_by_another_user_is_refused_in_one_line() -> None:
    with pytest.raises(UntrustedPipeServer) as refused:
        check_pipe_server(PIPE, 77, Owners(PipeServer(6120, OTHER_USER, False)))
    message = str(refused.value)
    assert "pid 6120" in message and OTHER_USER in message and "not connecting" in message
    assert "\n" not in message
    # The CLI reports it like any core it cannot reach (exit code 3).
    assert isinstance(refused.value, CoreUnreachable)


def test_a_server_nobody_can_identify_is_refused() -> None:
    with pytest.raises(UntrustedPipeServer, match="cannot tell who serves"):
        check_pipe_server(PIPE, 77, Owners(OSError("GetNamedPipeServerProcessId failed")))
