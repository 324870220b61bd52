"""Bad configuration files: each problem is one line naming the file and the key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.config import (
    LimitsConfig,
    LogsConfig,
    NodeConfig,
    NotifyConfig,
    PathsConfig,
    UpdatesConfig,
    config_from_dict,
    load_config,
)
from nodekeeper.core.errors import ConfigError
from tests.unit.config.support import LINUX_ROOT, Data, minimal, write


def setter(table: str | None, key: str, value: Any) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        (data.setdefault(table, {}) if table else data)[key] = value

    return apply


def several(*changes: Callable[[Data], None]) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        for change in changes:
            change(data)

    return apply


def drop(table: str, key: str | None = None) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        if key is None:
            del data[table]
        else:
            del data[table][key]

    return apply


node = lambda key, value: setter("node", key, value)  # noqa: E731
updates = lambda key, value: setter("updates", key, value)  # noqa: E731

# (what is wrong, how to break a minimal config, the dotted key, a word of the problem)
BAD: list[tuple[str, Callable[[Data], None], str, str]] = [
    ("unknown top-level key", setter(None, "nodes", {}), "nodes", "unknown key"),
    (
        "typo suggests the close key",
        node("restrat_delay", "1s"),
        "node.restrat_delay",
        "node.restart_delay",
    ),
    ("unknown updates key", updates("chanel", "x"), "updates.chanel", "unknown key"),
    (
        "unknown limits key",
        setter("limits", "memory", "1GiB"),
        "limits.memory",
        "limits.memory_max",
    ),
    ("unknown logs key", setter("logs", "max_size", "1GiB"), "logs.max_size", "unknown key"),
    ("unknown paths key", setter("paths", "sock", "/x"), "paths.sock", "paths.socket"),
    ("unknown notify key", setter("notify", "url", "https://x"), "notify.url", "unknown key"),
    ("section is not a table", setter(None, "limits", 5), "limits", "must be a table"),
    ("missing node section", drop("node"), "node", "missing"),
    ("missing command", drop("node", "command"), "node.command", "missing"),
    ("empty command", node("command", []), "node.command", "empty"),
    ("command is a string", node("command", "storagenode run"), "node.command", "list of strings"),
    ("command element not a string", node("command", ["a", 1]), "node.command", "element 1"),
    ("command program empty", node("command", ["", "run"]), "node.command", "empty"),
    ("instance unsafe", setter(None, "instance", "../evil"), "instance", "unsafe instance name"),
    ("instance too long", setter(None, "instance", "x" * 65), "instance", "unsafe"),
    ("instance not a string", setter(None, "instance", 5), "instance", "must be a string"),
    (
        "negative duration",
        node("restart_delay", "-1s"),
        "node.restart_delay",
        "negative duration '-1s'",
    ),
    ("zero stop timeout", node("stop_timeout", 0), "node.stop_timeout", "longer than zero"),
    ("duration without unit", node("stop_timeout", "30"), "node.stop_timeout", "no unit"),
    (
        "bad duration unit",
        node("stable_after", "5 parsecs"),
        "node.stable_after",
        "unknown duration unit",
    ),
    ("duration is a boolean", node("health_interval", True), "node.health_interval", "boolean"),
    (
        "health timeout above interval",
        node("health_timeout", "1m"),
        "node.health_timeout",
        "health_interval",
    ),
    (
        "restart delay above max",
        node("restart_delay", "10m"),
        "node.restart_delay",
        "restart_delay_max",
    ),
    ("zero health failures", node("health_failures", 0), "node.health_failures", "at least 1"),
    ("count as string", node("crash_loop_restarts", "3"), "node.crash_loop_restarts", "an integer"),
    ("count as float", node("health_failures", 2.5), "node.health_failures", "an integer"),
    ("unknown stop signal", node("stop_signal", "SIGFOO"), "node.stop_signal", "unknown signal"),
    ("health url ftp", node("health_url", "ftp://127.0.0.1/x"), "node.health_url", "http"),
    ("health url without host", node("health_url", "http:///api"), "node.health_url", "no host"),
    (
        "health url bad port",
        node("health_url", "http://h:99999/"),
        "node.health_url",
        "not a valid URL",
    ),
    ("env value not a string", node("env", {"A": 1}), "node.env.A", "must be a string"),
    ("env not a table", node("env", ["A=1"]), "node.env", "must be a table"),
    (
        "initial version not a version",
        node("initial_version", "latest"),
        "node.initial_version",
        "not a version",
    ),
    (
        "binary name with a slash",
        node("binary_name", "bin/sn"),
        "node.binary_name",
        "plain file name",
    ),
    ("workdir empty", node("workdir", ""), "node.workdir", "empty"),
    (
        "bad size unit",
        setter("logs", "max_file_size", "10XB"),
        "logs.max_file_size",
        "unknown size unit",
    ),
    ("negative size", setter("logs", "max_total_size", -5), "logs.max_total_size", "negative size"),
    (
        "total below file size",
        setter("logs", "max_total_size", "1MiB"),
        "logs.max_total_size",
        "max_file_size",
    ),
    ("tiny log file", setter("logs", "max_file_size", "100B"), "logs.max_file_size", "too small"),
    ("zero max age", setter("logs", "max_age", "0d"), "logs.max_age", "longer than zero"),
    ("compress not a bool", setter("logs", "compress", 1), "logs.compress", "true or false"),
    ("unknown update source", updates("source", "ftp"), "updates.source", "unknown source"),
    (
        "tuf without trusted root",
        several(updates("source", "tuf"), updates("url", "https://r/")),
        "updates.trusted_root",
        "required",
    ),
    (
        "tuf without url",
        several(updates("source", "tuf"), updates("trusted_root", "/r.json")),
        "updates.url",
        "required",
    ),
    ("plain http url", updates("url", "http://releases.example.org/"), "updates.url", "allow_http"),
    ("url not a url", updates("url", "releases"), "updates.url", "https"),
    ("keep one version", updates("keep_versions", 1), "updates.keep_versions", "at least 2"),
    ("enabled not a bool", updates("enabled", "yes"), "updates.enabled", "true or false"),
    ("bad public key", updates("public_key", "xyz"), "updates.public_key", "64 hex"),
    ("bad node id", updates("node_id", "not/an id!"), "updates.node_id", "not a node ID"),
    (
        "node id typo",
        updates("node_id", "1SkB92YpWm4Q2ijQHH34cqbKkCZWszsiQgHVjtNeFExggbYvz"),
        "updates.node_id",
        "checksum",
    ),
    ("node id hex too short", updates("node_id", "ab" * 20), "updates.node_id", "node id"),
    ("url with a space", updates("url", "https://releases example.org/"), "updates.url", "spaces"),
    ("bad repository", updates("repository", "storj"), "updates.repository", "owner/name"),
    ("jitter not below interval", updates("jitter", "12h"), "updates.jitter", "interval"),
    ("zero probation", updates("probation", "0s"), "updates.probation", "longer than zero"),
    (
        "negative free space",
        updates("min_free_space", "-1GiB"),
        "updates.min_free_space",
        "negative",
    ),
    ("zero cpu", setter("limits", "cpu_max", 0), "limits.cpu_max", "positive"),
    ("cpu as string", setter("limits", "cpu_max", "2"), "limits.cpu_max", "a number"),
    ("tiny memory limit", setter("limits", "memory_max", "1KiB"), "limits.memory_max", "16 MiB"),
    ("nice out of range", setter("limits", "nice", 40), "limits.nice", "-20 and 19"),
    ("webhook not a url", setter("notify", "webhook_url", "nope"), "notify.webhook_url", "http"),
    (
        "socket path too long",
        setter("paths", "socket", "/tmp/" + "s" * 120 + ".sock"),
        "paths.socket",
        "at most 107",
    ),
    (
        "socket is a pipe on posix",
        setter("paths", "socket", "\\\\.\\pipe\\nk"),
        "paths.socket",
        "only on Windows",
    ),
    ("data dir not a string", setter("paths", "data_dir", 7), "paths.data_dir", "must be a string"),
]


@pytest.mark.parametrize(("what", "breaks", "key", "problem"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_is_one_line_naming_file_and_key(
    tmp_path: Path, what: str, breaks: Callable[[Data], None], key: str, problem: str
) -> None:
    data = copy.deepcopy(minimal())
    breaks(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path, LINUX_ROOT)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message, message


def test_bad_table_has_more_than_thirty_cases() -> None:
    assert len(BAD) >= 30


durations = st.tuples(
    st.integers(min_value=1, max_value=10**5), st.sampled_from(["ms", "s", "m", "h", "d"])
)


@given(durations, durations)
def test_generated_restart_delays_are_accepted_exactly_when_ordered(
    first: tuple[int, str], cap: tuple[int, str]
) -> None:
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    delay, maximum = first[0] * factor[first[1]], cap[0] * factor[cap[1]]
    data = minimal()
    data["node"]["restart_delay"] = f"{first[0]}{first[1]}"
    data["node"]["restart_delay_max"] = f"{cap[0]}{cap[1]}"
    source = Path("/etc/nk.toml")
    if delay <= maximum:
        config = config_from_dict(data, source, LINUX_ROOT)
        assert config.node.restart_delay == pytest.approx(delay)
    else:
        with pytest.raises(ConfigError, match=r"^/etc/nk\.toml: node\.restart_delay: "):
            config_from_dict(data, source, LINUX_ROOT)


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(st.integers(), st.text(max_size=8), st.booleans()),
        max_size=4,
    )
)
def test_arbitrary_extra_tables_never_crash_only_config_errors(junk: dict[str, Any]) -> None:
    data = minimal()
    data["node"].update(junk)
    try:
        config_from_dict(data, Path("/etc/nk.toml"), LINUX_ROOT)
    except ConfigError as exc:
        assert str(exc).startswith("/etc/nk.toml: node.") and "\n" not in str(exc)


SECTION_KEYS = [
    (section, f.name)
    for section, cls in [
        ("node", NodeConfig),
        ("limits", LimitsConfig),
        ("updates", UpdatesConfig),
        ("logs", LogsConfig),
        ("notify", NotifyConfig),
        ("paths", PathsConfig),
    ]
    for f in fields(cls)
]
toml_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(),
        st.text(max_size=12),
        st.sampled_from(
            ["1s", "-5m", "0ms", "10MiB", "3XB", "https://h/", "http://h", "tuf", "github"]
        ),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@given(st.sampled_from(SECTION_KEYS), toml_values)
def test_any_value_for_any_key_is_accepted_or_refused_in_one_line_naming_it(
    section_key: tuple[str, str], value: Any
) -> None:
    section, key = section_key
    data = minimal()
    data.setdefault(section, {})[key] = value
    try:
        config_from_dict(data, Path("/etc/nk.toml"), LINUX_ROOT)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("/etc/nk.toml: ") and "\n" not in message
        # Either the key itself, or a rule that ties another key to it.
        assert f"{section}.{key}" in message, message
