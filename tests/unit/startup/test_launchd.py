"""The macOS LaunchDaemon and the tray's LaunchAgent."""

from __future__ import annotations

import plistlib

import pytest

from nodekeeper.core.startup import autostart, launchd
from tests.unit.startup.specs import AWKWARD_PATHS, make_spec


def daemon(**changes: object) -> dict[str, object]:
    registration = launchd.daemon_registration(make_spec(**changes))
    loaded: dict[str, object] = plistlib.loads(registration.files[0].content)
    return loaded


def test_daemon_runs_the_core_at_load_and_keeps_it_alive() -> None:
    plist = daemon(instance="node1")
    assert plist["Label"] == "org.nodekeeper.node1"
    assert plist["ProgramArguments"] == [
        "/usr/local/bin/nodekeeper",
        "run",
        "--config",
        "/etc/nodekeeper/storagenode.toml",
    ]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] is True
    assert plist["ThrottleInterval"] == 5


def test_daemon_waits_longer_than_the_node_stop_timeout_before_killing() -> None:
    exit_timeout = daemon(stop_timeout=60.0)["ExitTimeOut"]
    assert isinstance(exit_timeout, int)
    assert exit_timeout > 60


def test_daemon_sends_early_output_to_a_file_beside_the_core_log() -> None:
    plist = daemon(instance="n", logs_dir="/var/log/nk/")
    assert plist["StandardErrorPath"] == "/var/log/nk/nodekeeper-n.stderr.log"
    assert plist["StandardOutPath"] == plist["StandardErrorPath"]


def test_nice_is_carried_and_left_out_when_unset() -> None:
    assert daemon(nice=7)["Nice"] == 7
    assert "Nice" not in daemon()


def test_the_environment_holds_only_unbuffered_output() -> None:
    assert daemon()["EnvironmentVariables"] == {"PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize("path", AWKWARD_PATHS)
def test_awkward_paths_survive_the_plist(path: str) -> None:
    plist = daemon(config_path=path, core_command=(path,))
    assert plist["ProgramArguments"] == [path, "run", "--config", path]


def test_daemon_commands_reload_a_changed_definition_and_boot_it() -> None:
    registration = launchd.daemon_registration(make_spec(instance="n"))
    path = "/Library/LaunchDaemons/org.nodekeeper.n.plist"
    assert registration.files[0].path == path
    argv = [(c.argv, c.only_if_changed) for c in registration.install]
    assert argv == [
        (("launchctl", "bootout", "system/org.nodekeeper.n"), True),
        (("launchctl", "enable", "system/org.nodekeeper.n"), False),
        (("launchctl", "bootstrap", "system", path), False),
    ]
    assert [c.argv for c in registration.uninstall] == [
        ("launchctl", "bootout", "system/org.nodekeeper.n")
    ]


def test_daemon_file_names_map_back_to_instances_but_not_the_tray() -> None:
    assert launchd.instance_of_daemon("org.nodekeeper.node1.plist") == "node1"
    assert launchd.instance_of_daemon("org.nodekeeper.tray.plist") is None
    assert launchd.instance_of_daemon("com.other.plist") is None


def test_tray_agent_starts_in_the_graphical_session_and_returns_after_a_crash() -> None:
    registration = autostart.launch_agent_registration(("/usr/local/bin/nodekeeper-tray",))
    assert registration.shared
    assert registration.files[0].path == "/Library/LaunchAgents/org.nodekeeper.tray.plist"
    plist = plistlib.loads(registration.files[0].content)
    assert plist["ProgramArguments"] == ["/usr/local/bin/nodekeeper-tray"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["LimitLoadToSessionType"] == "Aqua"


def test_tray_agent_runs_the_installed_module_without_an_environment() -> None:
    registration = autostart.launch_agent_registration(("/py", "-m", "nodekeeper.tray.app"))
    plist = plistlib.loads(registration.files[0].content)
    assert plist["ProgramArguments"] == ["/py", "-m", "nodekeeper.tray.app"]
    assert "EnvironmentVariables" not in plist
    plain = plistlib.loads(autostart.launch_agent_registration(("/t",)).files[0].content)
    assert "EnvironmentVariables" not in plain
