"""The whole plan of each OS, built on any OS."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodekeeper.core import paths
from nodekeeper.core.config import config_from_dict
from nodekeeper.core.startup.errors import ServiceUsageError
from nodekeeper.core.startup.plan import (
    OS_NAMES,
    build_plan,
    commands_wanted,
    describe,
    other_instances,
    shared_spec,
    spec_from_config,
    target_path,
)
from tests.unit.startup.specs import make_spec

DEFAULTS = paths.default_paths("linux", True, {}, "node7")


def test_spec_takes_instance_absolute_config_limits_and_stop_timeout_from_config() -> None:
    config = config_from_dict(
        {
            "instance": "node7",
            "node": {"command": ["{binary}", "run"], "stop_timeout": "45s"},
            "limits": {"memory_max": "2GiB", "cpu_max": 0.5, "nice": 3},
            "paths": {"data_dir": "/srv/node7", "socket": "/run/nk/node7.sock"},
        },
        Path("/etc/nodekeeper/node7.toml"),
        DEFAULTS,
    )
    spec = spec_from_config(config, ("/usr/bin/nodekeeper",), None)
    assert spec.instance == "node7"
    assert spec.config_path == "/etc/nodekeeper/node7.toml"
    assert spec.stop_timeout == 45.0
    assert (spec.memory_max, spec.cpu_max, spec.nice) == (2 * 1024**3, 0.5, 3)
    assert spec.data_dir == "/srv/node7"
    assert spec.logs_dir == "/srv/node7/logs"
    assert spec.run_command == ("/usr/bin/nodekeeper", "run", "--config", spec.config_path)


@pytest.mark.parametrize(
    ("os_name", "service", "core_path", "tray_path"),
    [
        (
            "linux",
            "nodekeeper-n1",
            "/etc/systemd/system/nodekeeper-n1.service",
            "/etc/xdg/autostart/nodekeeper-tray.desktop",
        ),
        (
            "darwin",
            "org.nodekeeper.n1",
            "/Library/LaunchDaemons/org.nodekeeper.n1.plist",
            "/Library/LaunchAgents/org.nodekeeper.tray.plist",
        ),
        ("windows", "nodekeeper-n1", None, None),
    ],
)
def test_each_os_registers_the_core_and_the_tray(
    os_name: paths.OsName, service: str, core_path: str | None, tray_path: str | None
) -> None:
    plan = build_plan(os_name, make_spec(instance="n1"))
    assert plan.service_name == service
    assert [f.path for f in plan.core.files] == ([core_path] if core_path else [])
    assert [f.path for f in plan.tray.files] == ([tray_path] if tray_path else [])
    assert plan.tray.shared and not plan.core.shared
    assert plan.registrations("install") == (plan.core, plan.tray)
    assert plan.core.install, "every OS needs at least one command to activate the service"


@pytest.mark.parametrize("os_name", OS_NAMES)
def test_without_the_tray_install_leaves_it_out_but_uninstall_still_removes_it(
    os_name: paths.OsName,
) -> None:
    plan = build_plan(os_name, make_spec(tray_command=None))
    assert plan.registrations("install") == (plan.core,)
    assert plan.registrations("uninstall") == (plan.core, plan.tray)


@pytest.mark.parametrize("os_name", OS_NAMES)
@pytest.mark.parametrize("bad", ["\n", "\r", "\t", "\x00", "\x1b", "\x7f"])
def test_control_characters_in_paths_are_refused_in_one_line(
    os_name: paths.OsName, bad: str
) -> None:
    with pytest.raises(ServiceUsageError) as caught:
        build_plan(os_name, make_spec(config_path=f"/etc/node{bad}keeper.toml"))
    message = str(caught.value)
    assert "\n" not in message
    assert "config file path" in message
    with pytest.raises(ServiceUsageError, match="core command"):
        build_plan(os_name, make_spec(core_command=(f"/usr/bin/node{bad}keeper",)))


def test_other_instances_are_found_by_their_core_file_names() -> None:
    names = [
        "nodekeeper-a.service",
        "nodekeeper-b.service",
        "nodekeeper-b.service.d",
        "sshd.service",
    ]
    assert other_instances("linux", "a", names) == ["b"]
    mac = ["org.nodekeeper.a.plist", "org.nodekeeper.tray.plist", "org.nodekeeper.c.plist"]
    assert other_instances("darwin", "a", mac) == ["c"]
    assert other_instances("windows", "a", ["nodekeeper-b.service"]) == []


def test_commands_run_only_without_root_and_on_linux_only_under_systemd() -> None:
    assert commands_wanted("linux", False, True) == (True, "")
    run, reason = commands_wanted("linux", False, False)
    assert not run and "systemd is not running" in reason
    run, reason = commands_wanted("linux", True, True)
    assert not run and "--root" in reason
    assert commands_wanted("darwin", False, False) == (True, "")
    assert commands_wanted("windows", False, False) == (True, "")
    assert not commands_wanted("windows", True, False)[0]


def test_dry_run_description_shows_files_with_content_and_commands() -> None:
    plan = build_plan("linux", make_spec(instance="n1", nice=4))
    lines = describe(plan, "install", "/stage", True)
    assert "would write /stage/etc/systemd/system/nodekeeper-n1.service (mode 0644):" in lines
    assert "    Nice=4" in lines
    assert "would write /stage/etc/xdg/autostart/nodekeeper-tray.desktop (mode 0644):" in lines
    assert "would run: systemctl enable --now nodekeeper-n1.service" in lines
    assert "would run: systemctl daemon-reload (if a file changed)" in lines


def test_dry_run_marks_commands_that_would_not_run_and_says_why() -> None:
    plan = build_plan("linux", make_spec(instance="n1"))
    _, reason = commands_wanted("linux", False, False)
    lines = describe(plan, "uninstall", None, False, reason)
    assert "would remove /etc/systemd/system/nodekeeper-n1.service" in lines
    assert "would not run: systemctl disable --now nodekeeper-n1.service" in lines
    assert lines[-1] == f"(commands not run: {reason})"


def test_windows_dry_run_lists_the_sc_commands() -> None:
    plan = build_plan("windows", make_spec(instance="n1"))
    lines = describe(plan, "install", None, True)
    assert any(
        line.startswith("would run: sc.exe create nodekeeper-n1 binPath= ") for line in lines
    )
    assert any(line.startswith("would run: reg.exe add HKLM\\Software\\") for line in lines)
    assert not any(line.startswith("would write") for line in lines)


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/etc/x.service", None, "/etc/x.service"),
        ("/etc/x.service", "/stage", "/stage/etc/x.service"),
        ("/etc/x.service", "/stage/", "/stage/etc/x.service"),
        ("/etc/x.service", "/", "/etc/x.service"),
    ],
)
def test_files_land_under_root(path: str, root: str | None, expected: str) -> None:
    assert target_path(path, root) == expected


def test_a_shared_service_sums_limits_only_when_every_instance_has_one() -> None:
    a = make_spec(instance="a", config_path="/etc/a.toml", memory_max=1, cpu_max=0.5, nice=3)
    b = make_spec(instance="b", config_path="/etc/b.toml", memory_max=2, cpu_max=None, nice=3)
    c = make_spec(instance="c", config_path="/etc/c.toml", memory_max=4, cpu_max=1.0, nice=5)
    ab = shared_spec([a, b])
    assert (ab.memory_max, ab.cpu_max, ab.nice) == (3, None, 3)
    ac = shared_spec([a, c])
    assert (ac.memory_max, ac.cpu_max, ac.nice) == (5, 1.5, None)
    assert ac.instance == "a" and ac.more_instances == ("c",)
    assert ac.run_command[-4:] == ("--config", "/etc/a.toml", "--config", "/etc/c.toml")


def test_a_shared_service_refuses_a_control_character_in_any_config_path() -> None:
    a = make_spec(instance="a", config_path="/etc/a.toml")
    b = make_spec(instance="b", config_path="/etc/b\n.toml")
    with pytest.raises(ServiceUsageError, match="control character"):
        build_plan("linux", shared_spec([a, b]))
