"""[self_update]: defaults that follow [updates], and one-line refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.config import load_config
from nodekeeper.core.errors import ConfigError
from tests.unit.config.support import LINUX_ROOT, minimal, write

ROOT = "/etc/nodekeeper/root.json"


def load(tmp_path: Path, **tables: dict[str, Any]) -> Any:
    return load_config(write(tmp_path, {**minimal(), **tables}), LINUX_ROOT).self_update


def tuf_updates() -> dict[str, Any]:
    return {"source": "tuf", "url": "https://releases.example/", "trusted_root": ROOT}


def test_defaults_follow_a_tuf_updates_section(tmp_path: Path) -> None:
    s = load(tmp_path, updates=tuf_updates())
    assert (s.enabled, s.source, s.channel, s.probation) == (True, "tuf", "nodekeeper", 60.0)
    assert s.url == "https://releases.example/"
    assert s.trusted_root == Path(ROOT)


def test_without_a_tuf_repository_the_core_has_no_source(tmp_path: Path) -> None:
    s = load(tmp_path)  # the node updates from Storj's version server
    assert s.url is None and s.trusted_root is None and s.enabled


def test_own_tuf_repository(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        self_update={
            "url": "https://core.example/",
            "trusted_root": "core-root.json",
            "channel": "nk-beta",
            "probation": "2m",
        },
    )
    assert s.url == "https://core.example/"
    assert s.trusted_root == tmp_path / "core-root.json"
    assert (s.channel, s.probation) == ("nk-beta", 120.0)


def test_github_source(tmp_path: Path) -> None:
    key = "ab" * 32
    s = load(
        tmp_path,
        self_update={"source": "github", "repository": "example/nodekeeper", "public_key": key},
    )
    assert (s.url, s.repository, s.public_key) == (
        "https://api.github.com",
        "example/nodekeeper",
        key,
    )


@pytest.mark.parametrize(
    ("tables", "problem"),
    [
        ({"self_update": {"source": "storj"}}, "self_update.source: unknown source 'storj'"),
        ({"self_update": {"probation": "0s"}}, "self_update.probation"),
        ({"self_update": {"enabled": "yes"}}, "self_update.enabled"),
        ({"self_update": {"channel": "Bad Name"}}, "self_update.channel"),
        ({"self_update": {"colour": 1}}, "self_update.colour: unknown key"),
        ({"self_update": {"url": "https://core.example/"}}, "self_update.trusted_root: required"),
        ({"self_update": {"url": "http://core.example/", "trusted_root": ROOT}}, "must use https"),
        ({"self_update": {"source": "github"}}, "self_update.repository: required"),
        (
            {"self_update": {"source": "github", "repository": "a/b"}},
            "self_update.public_key: required",
        ),
    ],
)
def test_bad_values_are_one_line(tmp_path: Path, tables: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **tables)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_http_follows_updates_allow_http(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        updates={**tuf_updates(), "url": "http://127.0.0.1:8080/", "allow_http": True},
        self_update={"url": "http://127.0.0.1:9090/"},
    )
    assert s.url == "http://127.0.0.1:9090/" and s.trusted_root == Path(ROOT)
