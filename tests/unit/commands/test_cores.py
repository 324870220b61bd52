"""The one-line-per-core listing of `nodekeeper status`, and how a target is chosen."""

from __future__ import annotations

import argparse

import pytest

from nodekeeper.core import paths
from nodekeeper.core.commands.client import socket_path, targeted
from nodekeeper.core.commands.cores import format_rows, status_row, unreachable_row
from nodekeeper.core.errors import UsageError

STATUS = {
    "instance": "node1",
    "node": {"state": "running", "pid": 4242, "version": "1.2.3", "uptime_s": 3725.0},
    "updates": {"enabled": True, "state": "idle"},
}


def args(**given: str | None) -> argparse.Namespace:
    return argparse.Namespace(**{"socket": None, "config": None, "instance": None, **given})


def test_rows_line_up_in_columns_like_supervisorctl() -> None:
    rows = [
        status_row("sock-name", STATUS),
        status_row("x", {"instance": "second-node", "node": {"state": "backoff"}, "updates": {}}),
        unreachable_row("gone", "no core is running on /run/nodekeeper/gone.sock"),
    ]
    lines = format_rows(rows)
    assert lines[0].split() == [
        "node1", "RUNNING", "1.2.3", "pid", "4242,", "uptime", "1h", "2m", "updates", "on", "(idle)",
    ]  # fmt: skip
    assert lines[1].split()[:3] == ["second-node", "BACKOFF", "-"]
    assert "UNREACHABLE" in lines[2]
    # Every row's state starts in the same column.
    columns = {
        line.index(word)
        for line, word in zip(lines, ("RUNNING", "BACKOFF", "UNREACHABLE"), strict=True)
    }
    assert len(columns) == 1


def test_odd_status_fields_show_as_placeholders() -> None:
    row = status_row("name", {"node": "nonsense", "updates": None})
    assert (row.name, row.state, row.version) == ("name", "?", "-")


def test_instance_selects_its_default_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NODEKEEPER_CONFIG", raising=False)
    assert socket_path(args(instance="node2")) == paths.default_socket("node2")
    assert targeted(args(instance="node2"))
    assert not targeted(args())
    with pytest.raises(UsageError, match="--instance"):
        socket_path(args(instance="../etc"))


def test_nodekeeper_config_names_the_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODEKEEPER_CONFIG", "/nonexistent/x.toml")
    assert targeted(args())
    # --instance wins over the environment.
    assert socket_path(args(instance="a")) == paths.default_socket("a")


def test_a_core_whose_node_the_operator_stopped_says_so() -> None:
    node = {"state": "stopped", "version": "1.2.3", "stopped_by_operator": True}
    row = status_row("x", {"instance": "node1", "node": node, "updates": {}})
    assert (row.state, row.detail) == ("STOPPED", "stopped by operator")
