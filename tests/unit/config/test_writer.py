"""The writer: what it writes reads back as the same data, and the same config."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.helpers
from nodekeeper.core.config import (
    config_from_dict,
    config_to_dict,
    config_to_toml,
    load_config,
    to_toml,
)
from tests.unit.config.support import LINUX_ROOT, Data, full, minimal, write

# Text TOML can hold: any character but a lone surrogate.
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    text,
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
documents = st.dictionaries(text, values | st.dictionaries(text, values, max_size=4), max_size=5)


@given(documents)
def test_any_toml_data_reads_back_unchanged(data: dict[str, Any]) -> None:
    assert tomllib.loads(to_toml(data)) == data


@given(documents)
def test_the_output_is_ascii(data: dict[str, Any]) -> None:
    to_toml(data).encode("ascii")


def test_paths_and_tuples_are_written_as_strings_and_lists() -> None:
    data = {"node": {"command": ("a", "b"), "workdir": PurePosixPath("/srv/node")}}
    assert tomllib.loads(to_toml(data)) == {"node": {"command": ["a", "b"], "workdir": "/srv/node"}}


def test_special_floats_are_written_as_toml_floats() -> None:
    loaded = tomllib.loads(to_toml({"a": math.inf, "b": -math.inf, "c": math.nan, "d": 1e300}))
    assert (loaded["a"], loaded["b"], loaded["d"]) == (math.inf, -math.inf, 1e300)
    assert math.isnan(loaded["c"])


@pytest.mark.parametrize("value", [None, "\ud800", object()], ids=["none", "surrogate", "object"])
def test_what_toml_cannot_hold_is_refused(value: object) -> None:
    with pytest.raises(TypeError, match="cannot write"):
        to_toml({"node": {"key": value}})


def test_the_tests_write_configs_with_this_writer() -> None:
    assert tests.helpers.to_toml is to_toml


@pytest.mark.parametrize("builder", [minimal, full], ids=["minimal", "full"])
def test_config_round_trips_through_toml(tmp_path: Path, builder: Callable[[], Data]) -> None:
    original = load_config(write(tmp_path, builder()), LINUX_ROOT)
    text = config_to_toml(original)
    again = config_from_dict(tomllib.loads(text), original.source, LINUX_ROOT)
    assert again == original
    assert config_to_dict(again) == config_to_dict(original)


def test_unset_optional_keys_are_left_out() -> None:
    config = config_from_dict(minimal(), Path("/etc/nk.toml"), LINUX_ROOT)
    data = config_to_dict(config)
    assert "limits" not in data and "notify" not in data
    assert "health_url" not in data["node"] and "trusted_root" not in data["updates"]


env_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="=\0"), min_size=1, max_size=8
)
env_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))
seconds = st.floats(min_value=0.001, max_value=10**6)


@given(
    command=st.lists(env_values, min_size=1, max_size=4).filter(lambda c: bool(c[0].strip())),
    env=st.dictionaries(env_names, env_values, max_size=4),
    stop_timeout=seconds,
    max_file_size=st.integers(min_value=4096, max_value=2**40),
    cpu_max=st.floats(min_value=0.01, max_value=512),
)
def test_generated_configs_round_trip(
    command: list[str],
    env: dict[str, str],
    stop_timeout: float,
    max_file_size: int,
    cpu_max: float,
) -> None:
    data = full()
    data["node"].update(command=command, env=env, stop_timeout=stop_timeout)
    data["logs"].update(max_file_size=max_file_size, max_total_size=max_file_size)
    data["limits"]["cpu_max"] = cpu_max
    source = Path("/etc/nodekeeper/nk.toml")
    original = config_from_dict(tomllib.loads(to_toml(data)), source, LINUX_ROOT)
    assert original.node.command == tuple(command) and dict(original.node.env) == env
    again = config_from_dict(tomllib.loads(config_to_toml(original)), source, LINUX_ROOT)
    assert again == original
