"""Several instances in one core process: the pure decisions (core/instances.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.config.reader import config_from_dict
from nodekeeper.core.errors import ConfigError
from nodekeeper.core.events import EventBus
from nodekeeper.core.instances import ReadyWhenAll, check_distinct, restart_delay


def config(name: str, **paths: str) -> Any:
    data: dict[str, Any] = {
        "instance": name,
        "node": {"command": ["/bin/true"]},
        "paths": {"data_dir": f"/srv/{name}/data", "socket": f"/run/{name}.sock", **paths},
        "logs": {"dir": f"/srv/{name}/logs"},
    }
    return config_from_dict(data, Path(f"/etc/nodekeeper/{name}.toml"))


def test_distinct_instances_pass() -> None:
    check_distinct([config("a"), config("b"), config("c")])


@pytest.mark.parametrize(
    ("key", "second"),
    [
        ("instance", lambda: config("a", data_dir="/srv/x/data", socket="/run/x.sock")),
        ("paths.data_dir", lambda: config("b", data_dir="/srv/a/data")),
        ("paths.socket", lambda: config("b", socket="/run/a.sock")),
    ],
)
def test_a_shared_setting_is_refused_naming_both_files(key: str, second: Any) -> None:
    with pytest.raises(ConfigError) as raised:
        check_distinct([config("a"), second()])
    message = str(raised.value)
    assert key in message
    assert "/etc/nodekeeper/a.toml" in message
    assert "\n" not in message


def test_restart_delay_doubles_up_to_a_minute() -> None:
    assert [restart_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert restart_delay(20) == 60.0


def test_systemd_hears_ready_once_every_instance_is() -> None:
    ready = ReadyWhenAll(["a", "b"])
    heard: list[str] = []
    ready.bus.subscribe(lambda event: heard.append(event.kind))
    a, b = EventBus(), EventBus()
    ready.watch("a", a)
    ready.watch("b", b)
    a.publish("node-started", {})
    a.publish("node-started", {})
    assert heard == []
    b.publish("crash-loop", {})
    assert heard == ["node-started"]
