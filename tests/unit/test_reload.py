"""What a changed config file means for a running core: applied live, or after which restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.config import Config
from nodekeeper.core.config.reader import config_from_dict
from nodekeeper.core.reload import ReloadPlan, kind_of, plan_reload


def config(tmp_path: Path, **tables: dict[str, Any]) -> Config:
    data: dict[str, Any] = {
        "node": {"command": ["storagenode", "run"]},
        "paths": {"data_dir": str(tmp_path / "data"), "socket": str(tmp_path / "core.sock")},
    }
    for name, values in tables.items():
        data.setdefault(name, {}).update(values)
    return config_from_dict(data, tmp_path / "nodekeeper.toml")


def test_an_unchanged_file_changes_nothing(tmp_path: Path) -> None:
    plan = plan_reload(config(tmp_path), config(tmp_path))
    assert plan == ReloadPlan() and not plan.changed
    assert plan.summary() == "configuration unchanged"


def test_updates_health_and_notify_are_applied_live(tmp_path: Path) -> None:
    new = config(
        tmp_path,
        updates={"interval": "1h", "jitter": "5m", "enabled": False},
        node={"health_interval": "15s", "restart_delay_max": "1m"},
        notify={"webhook_url": "https://hooks.example.org/x"},
    )
    plan = plan_reload(config(tmp_path), new)
    assert plan.live == (
        "node.health_interval",
        "node.restart_delay_max",
        "updates.enabled",
        "updates.interval",
        "updates.jitter",
        "notify.webhook_url",
    )
    assert plan.node_restart == () and plan.core_restart == ()


def test_the_command_env_workdir_and_limits_wait_for_a_node_restart(tmp_path: Path) -> None:
    new = config(
        tmp_path,
        node={"command": ["storagenode", "run", "-v"], "env": {"A": "1"}, "workdir": "/srv"},
        limits={"memory_max": "1GiB"},
    )
    plan = plan_reload(config(tmp_path), new)
    assert plan.node_restart == ("node.command", "node.workdir", "node.env", "limits.memory_max")
    assert plan.live == () and plan.core_restart == ()
    assert plan.summary() == (
        "needs a node restart: node.command, node.workdir, node.env, limits.memory_max"
    )
    assert plan.summary(node_restarted=True).startswith("node restarted for: node.command")
    answer = plan.to_json(node_restarted=False)
    assert answer["needs_node_restart"] == list(plan.node_restart)
    assert answer["node_restarted"] is False


def test_instance_socket_data_dir_and_logs_need_a_core_restart(tmp_path: Path) -> None:
    new = config_from_dict(
        {
            "instance": "node2",
            "node": {"command": ["storagenode", "run"]},
            "logs": {"max_file_size": "1MiB"},
            "paths": {
                "data_dir": str(tmp_path / "data2"),
                "socket": str(tmp_path / "core2.sock"),
            },
        },
        tmp_path / "nodekeeper.toml",
    )
    plan = plan_reload(config(tmp_path), new)
    assert plan.core_restart == ("instance", "logs.dir", "paths.data_dir", "paths.socket")
    assert plan.live == ("logs.max_file_size",)
    assert "needs a core restart: instance, logs.dir" in plan.summary()


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("updates.source", "live"),
        ("node.stop_signal", "live"),
        ("node.binary_name", "core_restart"),
        ("limits.nice", "node_restart"),
        ("paths.socket", "core_restart"),
        ("logs.max_age", "live"),
        ("logs.dir", "core_restart"),
        ("some.future_key", "core_restart"),
    ],
)
def test_each_key_has_one_kind_and_unknown_keys_need_a_core_restart(key: str, kind: str) -> None:
    assert kind_of(key) == kind


def test_initial_binary_is_not_reported_once_a_core_runs(tmp_path: Path) -> None:
    binary = tmp_path / "storagenode"
    binary.write_text("")
    plan = plan_reload(config(tmp_path), config(tmp_path, node={"initial_binary": str(binary)}))
    assert not plan.changed


def test_the_cores_own_update_settings_are_applied_live(tmp_path: Path) -> None:
    new = config(tmp_path, self_update={"enabled": False, "probation": "2m"})
    plan = plan_reload(config(tmp_path), new)
    assert plan.live == ("self_update.enabled", "self_update.probation")
    assert kind_of("self_update.url") == "live"
