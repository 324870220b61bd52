"""Durations and sizes as operators write them (core/units.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.units import format_duration, format_size, parse_duration, parse_size

DURATION_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
SIZE_FACTORS = {
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
    "PiB": 1024**5,
    "PB": 10**15,
}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("100ms", 0.1),
        ("30s", 30.0),
        ("5m", 300.0),
        ("12h", 43200.0),
        ("30d", 2592000.0),
        ("1.5h", 5400.0),
        (" 2s ", 2.0),
        ("0s", 0.0),
        ("-1s", -1.0),
        (".5s", 0.5),
        (45, 45.0),
        (0.25, 0.25),
    ],
)
def test_durations_are_read_in_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("30", "no unit"),
        ("5 parsecs", "unknown duration unit"),
        ("5M", "unknown duration unit"),
        ("", "not a duration"),
        ("abc", "not a duration"),
        ("1.2.3s", "not a duration"),
        (True, "boolean"),
        (False, "boolean"),
        ([1], "a list"),
        ({"s": 1}, "a table"),
        (float("inf"), "not finite"),
        (float("nan"), "not finite"),
        ("1e999d", "not a duration"),
    ],
)
def test_bad_durations_are_rejected_with_a_reason(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_duration(value)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512KiB", 512 * 1024),
        ("10MiB", 10 * 1024**2),
        ("4GiB", 4 * 1024**3),
        ("1TiB", 1024**4),
        ("10MB", 10 * 10**6),
        ("1kB", 1000),
        ("1KB", 1000),
        ("12B", 12),
        ("1.5KiB", 1536),
        ("1.1GiB", 1181116006),
        ("0B", 0),
        (4096, 4096),
        (4096.0, 4096),
    ],
)
def test_sizes_are_read_in_bytes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("10XB", "unknown size unit"),
        ("10", "no unit"),
        ("ten MiB", "not a size"),
        ("", "not a size"),
        (True, "boolean"),
        (1.5, "whole number"),
        (["1"], "a list"),
    ],
)
def test_bad_sizes_are_rejected_with_a_reason(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_size(value)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(DURATION_FACTORS)))
def test_any_whole_duration_with_a_unit_is_number_times_unit(number: int, unit: str) -> None:
    assert parse_duration(f"{number}{unit}") == pytest.approx(number * DURATION_FACTORS[unit])


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(sorted(SIZE_FACTORS)))
def test_any_whole_size_with_a_unit_is_exact(number: int, unit: str) -> None:
    assert parse_size(f"{number}{unit}") == number * SIZE_FACTORS[unit]


@given(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=999),
    st.sampled_from(sorted(SIZE_FACTORS)),
)
def test_fractional_sizes_round_down_to_whole_bytes(whole: int, milli: int, unit: str) -> None:
    expected = (whole * 1000 + milli) * SIZE_FACTORS[unit] // 1000
    assert parse_size(f"{whole}.{milli:03d}{unit}") == expected


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.booleans(), st.none()))
def test_parsers_fail_only_with_value_error(value: object) -> None:
    for parse in (parse_duration, parse_size):
        try:
            parse(value)
        except ValueError as exc:
            assert str(exc)


@given(st.integers(min_value=0, max_value=2**60))
def test_formatted_sizes_read_back_close_to_the_original(size: int) -> None:
    text = format_size(size)
    assert abs(parse_size(text.replace(" ", "")) - size) <= max(size * 0.05, 1)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (10 * 1024**2, "10 MiB"),
        (4 * 1024**3, "4 GiB"),
    ],
)
def test_sizes_format_for_humans(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.15, "150ms"),
        (45, "45s"),
        (1.5, "1.5s"),
        (300, "5m"),
        (5400, "1h30m"),
        (187200, "2d4h"),
        (-30, "-30s"),
    ],
)
def test_durations_format_for_humans(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.floats(min_value=0, max_value=59.9, allow_nan=False))
def test_formatted_short_durations_read_back_close_to_the_original(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, abs=0.051)


@given(st.integers(min_value=60, max_value=10**9))
def test_formatted_long_durations_keep_the_two_largest_units(seconds: int) -> None:
    text = format_duration(seconds)
    parts = [p + u for p, u in re.findall(r"(\d+)([dhms])", text)]
    assert "".join(parts) == text and 1 <= len(parts) <= 2
    total = sum(parse_duration(p) for p in parts)
    # Dropping the smaller units loses less than one unit of the second part.
    assert seconds - parse_duration("1" + parts[-1][-1]) < total <= seconds
