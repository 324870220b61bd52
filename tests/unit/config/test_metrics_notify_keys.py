"""[metrics] listen and the [notify] format keys: read, defaulted, refused in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.config import config_from_dict
from nodekeeper.core.errors import ConfigError

SOURCE = Path("/etc/nodekeeper/sn.toml")


def data(**tables: dict[str, Any]) -> dict[str, Any]:
    return {
        "node": {"command": ["x"]},
        "paths": {"data_dir": "/var/lib/nk", "socket": "/run/nk.sock"},
        **tables,
    }


def test_metrics_are_off_unless_listen_is_set() -> None:
    assert config_from_dict(data(), SOURCE).metrics.listen is None


def test_listen_keeps_host_and_port() -> None:
    config = config_from_dict(data(metrics={"listen": "127.0.0.1:9101"}), SOURCE)
    assert config.metrics.listen == "127.0.0.1:9101"


@pytest.mark.parametrize("listen", ["9101", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "a b:1"])
def test_a_bad_listen_is_one_line_naming_the_key(listen: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_dict(data(metrics={"listen": listen}), SOURCE)
    assert "metrics.listen" in str(error.value) and "\n" not in str(error.value)


def test_an_unknown_notify_format_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"notify\.format: unknown format 'teams'"):
        config_from_dict(data(notify={"format": "teams"}), SOURCE)


def test_telegram_needs_a_chat_id() -> None:
    with pytest.raises(ConfigError, match=r"notify\.chat_id: required"):
        config_from_dict(data(notify={"format": "telegram"}), SOURCE)
    config = config_from_dict(data(notify={"format": "telegram", "chat_id": "-100123"}), SOURCE)
    assert config.notify.chat_id == "-100123"


@pytest.mark.parametrize(
    "url", ["ftp://discord.com/api/webhooks/1/TOKEN", "https:///TOKEN", "https://h:99999/TOKEN"]
)
def test_a_bad_webhook_url_is_refused_without_repeating_its_token(url: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_dict(data(notify={"webhook_url": url}), SOURCE)
    message = str(error.value)
    assert "notify.webhook_url: must be an http(s) URL" in message and "TOKEN" not in message
