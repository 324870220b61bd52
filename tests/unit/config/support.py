"""Shared pieces of the config tests: a minimal and a full file, Linux root's default paths."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from nodekeeper.core.config import to_toml
from nodekeeper.core.paths import DefaultPaths

Data = dict[str, Any]

LINUX_ROOT = DefaultPaths(
    data_dir=PurePosixPath("/var/lib/nodekeeper/sn"),
    socket="/run/nodekeeper/sn.sock",
    config=PurePosixPath("/etc/nodekeeper/sn.toml"),
    socket_dir="/run/nodekeeper",
)


def minimal() -> Data:
    return {"node": {"command": ["{binary}", "run"]}}


def write(tmp_path: Path, data: Data, name: str = "nk.toml") -> Path:
    path = tmp_path / name
    path.write_text(to_toml(data))
    return path


def full() -> Data:
    """Every key set."""
    return {
        "instance": "sn-2",
        "node": {
            "command": ["{binary}", "run", "--config-dir", "/etc/storj"],
            "binary_name": "storagenode",
            "initial_binary": "/usr/local/bin/storagenode",
            "initial_version": "1.2.3",
            "workdir": "work",
            "env": {"STORJ_LOG_LEVEL": "info", "Q": 'a "quoted" \\ value\twith tab'},
            "stop_signal": "SIGTERM",
            "stop_timeout": "45s",
            "health_url": "http://127.0.0.1:14002/api/sno",
            "health_interval": "30s",
            "health_timeout": "500ms",
            "health_failures": 5,
            "restart_delay": "250ms",
            "restart_delay_max": "5m",
            "stable_after": "10m",
            "crash_loop_restarts": 7,
            "crash_loop_window": "1h",
        },
        "limits": {"memory_max": "4GiB", "cpu_max": 1.5, "nice": 10},
        "updates": {
            "enabled": False,
            "source": "tuf",
            "url": "http://127.0.0.1:8080/",
            "trusted_root": "root.json",
            "process": "storagenode",
            "repository": "storj/storj",
            "public_key": "AB" * 32,
            "interval": "1h",
            "jitter": "5m",
            "startup_delay": "0s",
            "probation": "2m",
            "keep_versions": 4,
            "node_id": "1SkB92YpWm4Q2ijQHH34cqbKkCZWszsiQgHVjtNeFExggbYvy",
            "min_free_space": "500MB",
            "allow_http": True,
        },
        "logs": {
            "dir": "/var/log/nk",
            "max_file_size": "1MiB",
            "max_total_size": "100MiB",
            "max_age": "7d",
            "compress": False,
        },
        "notify": {"webhook_url": "https://hooks.example.org/x"},
        "paths": {"data_dir": "data", "socket": "run/nk.sock"},
    }
