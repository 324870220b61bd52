"""The schema: every default written once, what an empty config loads as, and what the docs say."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.config import (
    DEFAULT_INSTANCE,
    DEFAULT_UPDATE_SOURCE,
    DEFAULT_UPDATE_URLS,
    SECTIONS,
    GiB,
    MiB,
    load_config,
)
from nodekeeper.core.config.keys import (
    KEYS,
    Duration,
    Environment,
    FilePath,
    Flag,
    Integer,
    Number,
    Rule,
    Size,
    Strings,
    Url,
)
from nodekeeper.core.config.schema import NO_DEFAULT, schema_default
from nodekeeper.core.units import format_size, parse_duration, parse_size
from tests.helpers import REPO
from tests.unit.config.support import LINUX_ROOT, minimal, write

DOCS = REPO / "docs" / "configuration.md"

# Keys whose default is computed from something else, and how the docs say it.
COMPUTED = {
    ("updates", "url"): "storj: ",
    ("logs", "dir"): "`<data_dir>/logs`",
    ("paths", "data_dir"): "per OS",
    ("paths", "socket"): "per OS",
}


def test_minimal_config_gets_every_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, minimal()), LINUX_ROOT)
    assert config.instance == "storagenode"
    assert config.source == tmp_path / "nk.toml"
    n = config.node
    assert n.command == ("{binary}", "run")
    assert (n.binary_name, n.initial_binary, n.initial_version, n.workdir) == (
        "storagenode",
        None,
        None,
        None,
    )
    assert dict(n.env) == {}
    assert (n.stop_signal, n.stop_timeout, n.health_url) == ("SIGINT", 30.0, None)
    assert (n.health_interval, n.health_timeout, n.health_failures) == (30.0, 10.0, 3)
    assert (n.restart_delay, n.restart_delay_max, n.stable_after) == (0.1, 300.0, 600.0)
    assert (n.crash_loop_restarts, n.crash_loop_window) == (10, 600.0)
    assert (config.limits.memory_max, config.limits.cpu_max, config.limits.nice) == (
        None,
        None,
        None,
    )
    u = config.updates
    assert (u.enabled, u.source, u.url, u.trusted_root) == (
        True,
        "storj",
        "https://version.storj.io",
        None,
    )
    assert (u.process, u.repository, u.public_key, u.node_id) == (
        "storagenode",
        "storj/storj",
        None,
        None,
    )
    assert (u.interval, u.jitter, u.startup_delay, u.probation) == (43200.0, 3600.0, 300.0, 300.0)
    assert (u.keep_versions, u.min_free_space, u.allow_http) == (3, GiB, False)
    assert config.paths.data_dir == Path("/var/lib/nodekeeper/sn")
    assert config.paths.socket == "/run/nodekeeper/sn.sock"
    assert config.logs.dir == Path("/var/lib/nodekeeper/sn/logs")
    assert (config.logs.max_file_size, config.logs.max_total_size) == (10 * MiB, GiB)
    assert (config.logs.max_age, config.logs.compress) == (30 * 86400.0, True)
    assert config.notify.webhook_url is None


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, minimal()), LINUX_ROOT)
    with pytest.raises(AttributeError):
        config.instance = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.node.env["X"] = "1"  # type: ignore[index]


def test_an_empty_config_loads_as_the_schema_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, minimal()), LINUX_ROOT)
    assert config.instance == DEFAULT_INSTANCE
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            default = schema_default(cls, f.name)
            if default is not NO_DEFAULT:
                assert getattr(getattr(config, section), f.name) == default, (section, f.name)
    assert config.updates.url == DEFAULT_UPDATE_URLS[DEFAULT_UPDATE_SOURCE]
    assert config.logs.dir == config.paths.data_dir / "logs"
    assert (config.paths.data_dir, config.paths.socket) == (
        Path(LINUX_ROOT.data_dir),
        LINUX_ROOT.socket,
    )


def test_only_computed_keys_and_the_command_have_no_schema_default() -> None:
    missing = {
        (section, f.name)
        for section, cls in SECTIONS.items()
        for f in fields(cls)
        if schema_default(cls, f.name) is NO_DEFAULT
    }
    assert missing == (set(COMPUTED) - {("updates", "url")}) | {("node", "command")}


def test_the_key_table_has_one_rule_per_schema_field() -> None:
    assert list(KEYS) == list(SECTIONS)
    for section, cls in SECTIONS.items():
        assert set(KEYS[section]) == {f.name for f in fields(cls)}, section


def documented_keys() -> dict[tuple[str | None, str], dict[str, str]]:
    """Every row of the key tables in docs/configuration.md, by (section, key) and column."""
    rows: dict[tuple[str | None, str], dict[str, str]] = {}
    section: str | None = None
    header: list[str] = []
    in_keys = False
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_keys = line == "## Keys"
        heading = re.fullmatch(r"### `\[(\w+)\]`", line)
        if heading:
            section = heading.group(1)
        if not in_keys or not line.startswith("|"):
            continue
        # Only the first columns are read: the last ("meaning") may hold a "|".
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == "key":
            header = cells
        elif cells[0].startswith("`"):
            rows[(section, cells[0].strip("`"))] = dict(zip(header[:-1], cells, strict=False))
    return rows


def test_the_docs_list_exactly_the_schema_keys() -> None:
    schema_keys = {(s, f.name) for s, cls in SECTIONS.items() for f in fields(cls)}
    assert set(documented_keys()) == schema_keys | {(None, "instance")}


def documented_default(rule: Rule, cell: str) -> Any:
    if cell == "**required**":
        return NO_DEFAULT
    if cell.startswith("none"):
        return None
    value = tomllib.loads(f"v = {cell.strip('`')}")["v"]
    if isinstance(rule, Duration):
        return parse_duration(value)
    if isinstance(rule, Size):
        return parse_size(value)
    return value


@pytest.mark.parametrize(
    ("section", "key"), [k for k in documented_keys() if k[0] is not None], ids=str
)
def test_the_docs_state_the_schema_default(section: str, key: str) -> None:
    row = documented_keys()[(section, key)]
    default = schema_default(SECTIONS[section], key)
    if "default" not in row:  # [limits]: "absent means no limit"
        assert default is None
    elif (section, key) in COMPUTED:
        assert COMPUTED[(section, key)] in row["default"]
    else:
        assert documented_default(KEYS[section][key], row["default"]) == default


def test_the_docs_state_the_computed_defaults() -> None:
    docs = documented_keys()
    assert docs[(None, "instance")]["default"] == f'`"{DEFAULT_INSTANCE}"`'
    url = docs[("updates", "url")]["default"]
    for source, address in DEFAULT_UPDATE_URLS.items():
        assert f'{source}: `"{address}"`' in url
    assert "tuf: **required**" in url
    assert docs[("updates", "source")]["default"] == f'`"{DEFAULT_UPDATE_SOURCE}"`'


# What the docs' type column says for each kind of rule.
KIND_WORDS: dict[type[Rule], str] = {
    Duration: "duration",
    Size: "size",
    Integer: "integer",
    Number: "number",
    Flag: "boolean",
    Url: "URL",
    Strings: "list of strings",
    Environment: "table of strings",
    FilePath: "path",
}


@pytest.mark.parametrize(
    ("section", "key"), [(s, k) for s, rules in KEYS.items() for k in rules], ids=str
)
def test_the_docs_state_each_keys_type_and_bounds(section: str, key: str) -> None:
    rule = KEYS[section][key]
    kind = documented_keys()[(section, key)]["type"]
    if type(rule) in KIND_WORDS:
        assert KIND_WORDS[type(rule)] in kind
    if isinstance(rule, Duration):
        assert ("> 0" if rule.positive else "≥ 0") in kind
    if isinstance(rule, Integer) and rule.minimum is not None:
        if rule.maximum is None:
            bound = f"≥ {rule.minimum}"
        else:  # the docs write a range with a real minus sign: "−20…19"
            bound = f"{rule.minimum}…{rule.maximum}".replace("-", "−")
        assert bound in kind
    if isinstance(rule, Size) and rule.minimum:
        assert f"≥ {format_size(rule.minimum)}" in kind
