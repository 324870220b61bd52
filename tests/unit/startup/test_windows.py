"""The Windows service plan: sc.exe and reg.exe commands, reviewed as data."""

from __future__ import annotations

import subprocess

import pytest

from nodekeeper.core.startup import autostart, windows
from nodekeeper.core.startup.model import Command
from tests.unit.startup.specs import make_spec

SPEC = make_spec(
    instance="node1",
    config_path="C:\\ProgramData\\nodekeeper\\node 1.toml",
    core_command=("C:\\Program Files\\Python311\\python.exe", "-m", "nodekeeper.core"),
)


def commands() -> list[Command]:
    return list(windows.service_registration(SPEC).install)


def by_verb(verb: str) -> Command:
    return next(c for c in commands() if c.argv[:2] == ("sc.exe", verb))


def test_create_registers_an_automatic_service_with_the_quoted_command_line() -> None:
    create = by_verb("create")
    assert create.argv[2] == "nodekeeper-node1"
    settings = dict(zip(create.argv[3::2], create.argv[4::2], strict=True))
    assert settings["start="] == "auto"
    assert settings["binPath="] == (
        '"C:\\Program Files\\Python311\\python.exe" -m nodekeeper.core run --config '
        '"C:\\ProgramData\\nodekeeper\\node 1.toml"'
    )
    # An existing service is fine: config right after brings it up to date.
    assert create.ok_codes is not None and windows.ERROR_SERVICE_EXISTS in create.ok_codes
    assert by_verb("config").argv[3:] == create.argv[3:]


def test_failure_actions_restart_after_five_seconds_also_on_error_exit() -> None:
    failure = by_verb("failure")
    assert failure.argv[3:5] == ("reset=", "86400")
    assert failure.argv[5] == "actions="
    assert failure.argv[6] == "restart/5000/restart/5000/restart/5000"
    assert by_verb("failureflag").argv[3] == "1"


def test_service_is_started_last_and_already_running_is_fine() -> None:
    last = commands()[-1]
    assert last.argv == ("sc.exe", "start", "nodekeeper-node1")
    assert last.ok_codes is not None and windows.ERROR_SERVICE_ALREADY_RUNNING in last.ok_codes


def test_the_service_environment_holds_only_unbuffered_output() -> None:
    reg = next(c for c in commands() if c.argv[0] == "reg.exe")
    assert reg.argv[2] == "HKLM\\SYSTEM\\CurrentControlSet\\Services\\nodekeeper-node1"
    assert reg.argv[reg.argv.index("/d") + 1].split("\\0") == ["PYTHONUNBUFFERED=1"]


def test_uninstall_stops_then_deletes_and_tolerates_a_missing_service() -> None:
    uninstall = windows.service_registration(SPEC).uninstall
    assert [c.argv[:2] for c in uninstall] == [("sc.exe", "stop"), ("sc.exe", "delete")]
    for command in uninstall:
        assert command.ok_codes is not None
        assert windows.ERROR_SERVICE_DOES_NOT_EXIST in command.ok_codes


def test_windows_plan_writes_no_files() -> None:
    assert windows.service_registration(SPEC).files == ()


@pytest.mark.parametrize(
    "argv",
    [
        ("C:\\Program Files\\nodekeeper\\nodekeeper-tray.exe",),
        ("C:\\py\\python.exe", "-m", "nodekeeper.tray.app"),
    ],
)
def test_tray_starts_at_login_for_every_user_through_the_run_key(argv: tuple[str, ...]) -> None:
    registration = autostart.windows_run_registration(argv)
    assert registration.shared
    (add,) = registration.install
    assert add.argv[:5] == ("reg.exe", "add", autostart.RUN_KEY, "/v", "nodekeeper-tray")
    assert add.argv[add.argv.index("/d") + 1] == subprocess.list2cmdline(argv)
    assert autostart.RUN_KEY.startswith("HKLM\\")
    (delete,) = registration.uninstall
    assert delete.argv[:2] == ("reg.exe", "delete")


def test_rendered_commands_use_windows_quoting() -> None:
    assert (
        by_verb("create").render("windows").startswith('sc.exe create nodekeeper-node1 binPath= "')
    )
