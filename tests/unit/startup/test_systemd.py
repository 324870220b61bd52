"""The systemd unit: what it says, and that every path comes back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given

from nodekeeper.core.startup import systemd
from tests.unit.startup.readers import (
    systemd_environment,
    systemd_exec_argv,
    unit_settings,
)
from tests.unit.startup.specs import AWKWARD_PATHS, PRINTABLE, make_spec


def settings_of(**changes: object) -> dict[str, list[str]]:
    return unit_settings(systemd.unit_text(make_spec(**changes)))


def test_unit_runs_the_core_with_the_absolute_config_and_always_restarts() -> None:
    settings = settings_of()
    assert systemd_exec_argv(settings["Service.ExecStart"][0]) == [
        "/usr/local/bin/nodekeeper",
        "run",
        "--config",
        "/etc/nodekeeper/storagenode.toml",
    ]
    assert settings["Service.Restart"] == ["always"]
    assert settings["Service.RestartSec"] == ["5"]
    assert settings["Unit.StartLimitIntervalSec"] == ["0"]
    assert settings["Install.WantedBy"] == ["multi-user.target"]


def test_unit_waits_for_the_network() -> None:
    settings = settings_of()
    assert settings["Unit.After"] == ["network-online.target"]
    assert settings["Unit.Wants"] == ["network-online.target"]


def test_stop_signals_only_the_core_and_waits_longer_than_the_node_stop_timeout() -> None:
    settings = settings_of(stop_timeout=42.5)
    assert settings["Service.KillMode"] == ["mixed"]
    assert settings["Service.KillSignal"] == ["SIGTERM"]
    assert int(settings["Service.TimeoutStopSec"][0]) > 42.5
    assert int(settings["Service.TimeoutStopSec"][0]) <= 42.5 + 30


def test_limits_become_memory_max_cpu_quota_and_nice() -> None:
    settings = settings_of(memory_max=4 * 1024**3, cpu_max=1.5, nice=10)
    assert settings["Service.MemoryMax"] == [str(4 * 1024**3)]
    assert settings["Service.CPUQuota"] == ["150%"]
    assert settings["Service.Nice"] == ["10"]


def test_no_limits_means_no_limit_lines() -> None:
    settings = settings_of()
    assert not {"Service.MemoryMax", "Service.CPUQuota", "Service.Nice"} & settings.keys()


@pytest.mark.parametrize(
    ("cores", "percent"), [(1.5, 150), (0.25, 25), (4, 400), (0.001, 1), (0.333, 33)]
)
def test_cpu_quota_is_cores_times_hundred_percent_and_never_zero(
    cores: float, percent: int
) -> None:
    assert systemd.cpu_quota_percent(cores) == percent


def test_a_python_module_command_runs_the_installed_package_without_pythonpath() -> None:
    settings = settings_of(core_command=("/usr/bin/python3", "-m", "nodekeeper.core"))
    assert "PYTHONPATH" not in systemd_environment(" ".join(settings["Service.Environment"]))
    assert systemd_exec_argv(settings["Service.ExecStart"][0])[:3] == [
        "/usr/bin/python3",
        "-m",
        "nodekeeper.core",
    ]


@pytest.mark.parametrize("path", AWKWARD_PATHS)
def test_awkward_config_paths_reach_the_core_unchanged(path: str) -> None:
    settings = settings_of(config_path=path, core_command=(path,))
    argv = systemd_exec_argv(settings["Service.ExecStart"][0])
    assert argv == [path, "run", "--config", path]


@given(PRINTABLE)
def test_any_printable_argument_survives_exec_start_quoting(arg: str) -> None:
    line = systemd.quote_exec_arg(arg)
    assert systemd_exec_argv(line) == [arg]
    assert "\n" not in line


@given(PRINTABLE)
def test_any_printable_value_survives_environment_quoting(value: str) -> None:
    assert systemd_environment(systemd.quote_environment("X", value)) == {"X": value}


def test_unit_text_has_no_unquoted_space_inside_a_path() -> None:
    line = systemd.unit_text(make_spec(config_path="/a b/c d.toml"))
    exec_line = next(x for x in line.splitlines() if x.startswith("ExecStart="))
    assert '"/a b/c d.toml"' in exec_line


@pytest.mark.parametrize(
    ("name", "instance"),
    [
        ("nodekeeper-storagenode.service", "storagenode"),
        ("nodekeeper-node.2.service", "node.2"),
        ("nodekeeper-.service", None),
        ("other.service", None),
        ("nodekeeper-x.service.d", None),
    ],
)
def test_unit_file_names_map_back_to_instances(name: str, instance: str | None) -> None:
    assert systemd.instance_of_unit(name) == instance


def test_registration_enables_and_starts_the_unit_and_reloads_only_on_change() -> None:
    registration = systemd.registration(make_spec(instance="n1"))
    assert [f.path for f in registration.files] == ["/etc/systemd/system/nodekeeper-n1.service"]
    assert registration.files[0].mode == 0o644
    commands = [(c.argv, c.only_if_changed) for c in registration.install]
    assert commands == [
        (("systemctl", "daemon-reload"), True),
        (systemd.useradd_argv("nodekeeper"), False),
        (("systemctl", "try-restart", "nodekeeper-n1.service"), True),
        (("systemctl", "enable", "--now", "nodekeeper-n1.service"), False),
    ]
    assert [c.argv for c in registration.uninstall] == [
        ("systemctl", "disable", "--now", "nodekeeper-n1.service")
    ]
    assert [c.argv for c in registration.after_uninstall] == [("systemctl", "daemon-reload")]
    assert ("systemctl", "is-active", "nodekeeper-n1.service") in [
        c.argv for c in registration.status
    ]


def test_the_service_user_is_created_as_a_system_user_and_an_existing_one_is_fine() -> None:
    registration = systemd.registration(make_spec(instance="n1", user="nk"))
    useradd = [c for c in registration.install if c.argv[0] == "useradd"]
    assert len(useradd) == 1
    assert useradd[0].argv[-1] == "nk" and "--system" in useradd[0].argv
    assert useradd[0].ok_codes == frozenset({0, 9})
    assert settings_of(user="nk")["Service.User"] == ["nk"]
    assert settings_of(user="nk")["Service.Group"] == ["nk"]
