"""`nodekeeper run` with a bad configuration: exit 2, one line naming file and key, nothing started."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, demo_node_command, to_toml

Config = dict[str, Any]


def base_config(tmp: Path) -> Config:
    return {
        "instance": "badcfg",
        "node": {"command": demo_node_command("run", "--port", "0")},
        "updates": {"enabled": False},
        "logs": {"dir": str(tmp / "logs")},
        "paths": {"data_dir": str(tmp / "data"), "socket": str(tmp / "core.sock")},
    }


def setter(table: str | None, key: str, value: Any) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        (config.setdefault(table, {}) if table else config)[key] = value

    return apply


def deleter(table: str, key: str) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        del config[table][key]

    return apply


CASES: list[tuple[str, Callable[[Config], None], str]] = [
    ("unknown top-level key", setter(None, "bogus", 1), "bogus"),
    ("unknown node key", setter("node", "comand", ["x"]), "node.comand"),
    ("unknown table", setter("extras", "x", 1), "extras"),
    ("command is a string", setter("node", "command", "storagenode run"), "node.command"),
    ("missing command", deleter("node", "command"), "node.command"),
    ("empty command", setter("node", "command", []), "node.command"),
    ("command element not a string", setter("node", "command", ["a", 1]), "node.command"),
    ("negative duration", setter("node", "restart_delay", "-1s"), "node.restart_delay"),
    ("bad duration unit", setter("node", "stop_timeout", "5 parsecs"), "node.stop_timeout"),
    ("duration of wrong type", setter("node", "health_interval", True), "node.health_interval"),
    ("bad size unit", setter("logs", "max_file_size", "10XB"), "logs.max_file_size"),
    ("negative size", setter("logs", "max_total_size", -5), "logs.max_total_size"),
    ("zero health failures", setter("node", "health_failures", 0), "node.health_failures"),
    ("health failures as string", setter("node", "health_failures", "3"), "node.health_failures"),
    ("health url not http", setter("node", "health_url", "ftp://127.0.0.1/x"), "node.health_url"),
    ("unknown stop signal", setter("node", "stop_signal", "SIGFOO"), "node.stop_signal"),
    ("restart delay above max", setter("node", "restart_delay", "10m"), "node.restart_delay"),
    ("unknown update source", setter("updates", "source", "ftp"), "updates.source"),
    ("tuf without trusted root", setter("updates", "source", "tuf"), "updates.trusted_root"),
    ("plain http url", setter("updates", "url", "http://releases.example.org/"), "updates.url"),
    ("keep only one version", setter("updates", "keep_versions", 1), "updates.keep_versions"),
    ("enabled not a bool", setter("updates", "enabled", "yes"), "updates.enabled"),
    ("bad public key", setter("updates", "public_key", "xyz"), "updates.public_key"),
    ("negative cpu", setter("limits", "cpu_max", -1), "limits.cpu_max"),
    ("tiny memory limit", setter("limits", "memory_max", "1KiB"), "limits.memory_max"),
    ("nice out of range", setter("limits", "nice", 40), "limits.nice"),
    ("unsafe instance name", setter(None, "instance", "../evil"), "instance"),
    ("env value not a string", setter("node", "env", {"A": 1}), "node.env"),
    ("compress not a bool", setter("logs", "compress", 1), "logs.compress"),
    ("webhook not a url", setter("notify", "webhook_url", "nope"), "notify.webhook_url"),
    (
        "socket path too long",
        setter("paths", "socket", "/tmp/" + "s" * 120 + ".sock"),
        "paths.socket",
    ),
    (
        "{binary} with nothing installed",
        setter("node", "command", ["{binary}", "run"]),
        "node.command",
    ),
    ("program does not exist", setter("node", "command", ["/nonexistent/node"]), "node.command"),
    ("program not on PATH", setter("node", "command", ["no-such-node-program"]), "node.command"),
    (
        "program not executable",
        setter("node", "command", [str(REPO / "README.md")]),
        "node.command",
    ),
    ("program is a folder", setter("node", "command", ["/tmp", "run"]), "node.command"),
    ("workdir missing", setter("node", "workdir", "/nonexistent/folder"), "node.workdir"),
    ("node id with a typo", setter("updates", "node_id", "1" * 50), "updates.node_id"),
    ("node id hex too short", setter("updates", "node_id", "ab" * 20), "updates.node_id"),
    (
        "initial version not a version",
        setter("node", "initial_version", "1.2"),
        "node.initial_version",
    ),
    ("logs dir is a file", setter("logs", "dir", str(REPO / "README.md")), "logs.dir"),
    (
        "data dir under a file",
        setter("paths", "data_dir", str(REPO / "README.md" / "d")),
        "paths.data_dir",
    ),
    ("health url with a space", setter("node", "health_url", "http://a b/"), "node.health_url"),
]


def run_core(config_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nodekeeper.core", "run", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def assert_rejected(
    result: subprocess.CompletedProcess[str], config_path: Path, key: str, data_dir: Path
) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(config_path) in lines[0]
    assert key in lines[0], lines[0]
    # Nothing was started: no node, no status file, no state.
    assert not (data_dir / "status.json").exists()
    assert not (data_dir / "node.pid").exists()


@pytest.mark.parametrize(("name", "mutate", "key"), CASES, ids=[c[0] for c in CASES])
def test_bad_config_is_rejected_with_one_line(
    tmp_path: Path, name: str, mutate: Callable[[Config], None], key: str
) -> None:
    config = copy.deepcopy(base_config(tmp_path))
    mutate(config)
    path = tmp_path / "bad.toml"
    path.write_text(to_toml(config))
    assert_rejected(run_core(path), path, key, tmp_path / "data")


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('instance = "x"\n[node\ncommand = ["a"]\n')
    result = run_core(path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert str(path) in result.stderr and "line 2" in result.stderr


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_config_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope.toml"
    if kind == "directory":
        path.mkdir()
    result = run_core(path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and str(path) in result.stderr


def test_usage_error_is_one_line_with_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nodekeeper.core", "run"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
