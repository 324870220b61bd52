"""The demo node's pure parts: options, environment, log line format, write statistics."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.demo.node import (
    OPTIONS,
    DemoUsageError,
    Settings,
    WriteStats,
    env_name,
    format_log_line,
    format_timestamp,
    node_id,
    parse_duration,
    parse_settings,
    parse_size,
    piece_fields,
    version_text,
)
from nodekeeper.core.update.nodeid import decode_node_id


def test_defaults_when_nothing_is_given() -> None:
    assert parse_settings(["run"], {}) == ("run", Settings())
    assert Settings().log_rate == 2.0
    assert Settings().port == 0


def test_every_option_has_a_settings_field_and_an_environment_variable() -> None:
    names = set(Settings._fields)
    assert len(OPTIONS) == len(names)
    for flags, _parse, _help in OPTIONS:
        dest = flags[0][2:].replace("-", "_")
        assert dest in names
        assert env_name(flags) == "NK_DEMO_" + dest.upper()


def test_options_may_come_before_or_after_the_command() -> None:
    before = parse_settings(["--port", "1234", "--spin-cpu", "run"], {})
    after = parse_settings(["run", "--port", "1234", "--spin-cpu"], {})
    assert before == after
    assert after[1].port == 1234 and after[1].spin_cpu


def test_environment_sets_values_and_switches_and_flags_win() -> None:
    env = {"NK_DEMO_CRASH_AFTER": "500ms", "NK_DEMO_IGNORE_STOP": "1", "NK_DEMO_LOG_RATE": "7"}
    _, settings = parse_settings(["run", "--log-rate", "3"], env)
    assert settings.crash_after == 0.5
    assert settings.ignore_stop is True
    assert settings.log_rate == 3.0


def test_log_burst_is_another_name_for_log_lines() -> None:
    assert parse_settings(["run", "--log-burst", "10"], {})[1].log_lines == 10


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["run", "--port", "70000"], {}, "--port"),
        (["run", "--log-rate", "-1"], {}, "--log-rate"),
        (["run", "--log-line-size", "0"], {}, "--log-line-size"),
        (["run", "--eat-memory", "lots"], {}, "--eat-memory"),
        (["run", "--hang-after", "3 parsecs"], {}, "--hang-after"),
        (["run", "--crash"], {}, "--crash"),  # abbreviations are not accepted
        (["run"], {"NK_DEMO_SPIN_CPU": "maybe"}, "NK_DEMO_SPIN_CPU"),
        (["run"], {"NK_DEMO_VERSION_STRING": "one"}, "NK_DEMO_VERSION_STRING"),
        ([], {}, "command"),
    ],
)
def test_bad_values_raise_a_usage_error_naming_the_option(
    argv: list[str], env: dict[str, str], named: str
) -> None:
    with pytest.raises(DemoUsageError, match=re.escape(named)):
        parse_settings(argv, env)


@pytest.mark.parametrize(
    ("text", "seconds"), [("2.5", 2.5), ("500ms", 0.5), ("3s", 3.0), ("1m", 60.0), ("0", 0.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),
        ("512KiB", 512 * 1024),
        ("50MiB", 50 << 20),
        ("2GB", 2 * 10**9),
        ("1m", 1 << 20),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_log_line_has_the_storage_node_shape_and_ends_with_n() -> None:
    message, fields = piece_fields(17)
    line = format_log_line(1795755600.123, "INFO", "piecestore", message, fields, 17).decode()
    stamp, level, logger, text, body = line.rstrip("\n").split("\t")
    assert stamp == "2026-11-27T05:00:00.123Z"
    assert (level, logger, text) == ("INFO", "piecestore", message)
    data = json.loads(body)
    assert data["n"] == 17 and list(data)[-1] == "n"
    assert len(data["Piece ID"]) == 52


@given(n=st.integers(0, 10**12), size=st.integers(1, 4096))
def test_padded_lines_have_exactly_the_requested_size_when_it_fits(n: int, size: int) -> None:
    message, fields = piece_fields(n)
    natural = format_log_line(0.0, "INFO", "piecestore", message, fields, n)
    line = format_log_line(0.0, "INFO", "piecestore", message, fields, n, size)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line.split(b"\t")[-1])["n"] == n
    assert len(line) == max(size, len(natural))
    if size <= len(natural):
        assert line == natural


def test_timestamps_keep_milliseconds() -> None:
    assert format_timestamp(0.999) == "1970-01-01T00:00:00.999Z"


def test_node_id_is_a_valid_storj_node_id() -> None:
    text = node_id(b"seed")
    assert len(decode_node_id(text)) == 32
    assert node_id(b"seed") == text != node_id(b"other")


def test_version_text_reports_the_version_like_the_real_binary() -> None:
    assert "Version: v1.2.3\n" in version_text("1.2.3")


def test_write_stats_report_p99_and_max_in_milliseconds() -> None:
    stats = WriteStats()
    for _ in range(990):
        stats.record(0.00005)
    for _ in range(10):
        stats.record(0.060)
    report = stats.summary(lines=1000)
    assert report["writes"] == 1000 and report["lines"] == 1000
    assert report["p99_ms"] <= 0.1
    assert report["max_ms"] == 60.0
    stats.record(0.060)
    assert stats.summary(lines=1001)["p99_ms"] == pytest.approx(60.0, abs=0.1)


def test_write_stats_of_nothing_are_zero() -> None:
    assert WriteStats().summary(lines=0) == {"lines": 0, "writes": 0, "p99_ms": 0.0, "max_ms": 0.0}
