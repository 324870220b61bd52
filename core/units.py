"""Durations and sizes as operators write them, and back.

Pure functions only: parsing raises ``ValueError`` with a short reason
(the config loader adds the file and the key); formatting never fails.
"""

from __future__ import annotations

import math
import re

_DURATION_UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}

_SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "pb": 1000**5,
    "pib": 1024**5,
}

_NUMBER_UNIT = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([A-Za-z]*)\s*")


def parse_duration(value: object) -> float:
    """Seconds from ``"100ms"``, ``"30s"``, ``"5m"``, ``"1.5h"``, ``"30d"`` or a number of seconds.

    The sign is kept (callers decide whether negative or zero is allowed);
    NaN, infinity, booleans and unknown units are rejected.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got a boolean ({str(value).lower()})")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _NUMBER_UNIT.fullmatch(value)
        if match is None:
            raise ValueError(
                f"not a duration {value!r} (use e.g. '100ms', '30s', '5m', '12h', '30d')"
            )
        number, unit = match.groups()
        if unit == "":
            raise ValueError(f"duration {value!r} has no unit (use ms, s, m, h or d)")
        factor = _DURATION_UNITS.get(unit)
        if factor is None:
            raise ValueError(f"unknown duration unit {unit!r} in {value!r} (use ms, s, m, h or d)")
        seconds = float(number) * factor
    else:
        raise ValueError(f"expected a duration string or number, got {_type_name(value)}")
    if not math.isfinite(seconds):
        raise ValueError(f"duration {value!r} is not finite")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from ``"512KiB"``, ``"10MiB"``, ``"10MB"`` (10·10^6), ``"1kB"``, ``"12B"`` or an int.

    Unit names are case-insensitive except that they must be known ones;
    a fractional result is rounded down to whole bytes.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a size, got a boolean ({str(value).lower()})")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"size {value!r} is not a whole number of bytes")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a size string or integer, got {_type_name(value)}")
    match = _NUMBER_UNIT.fullmatch(value)
    if match is None:
        raise ValueError(f"not a size {value!r} (use e.g. '512KiB', '10MiB', '4GiB', '10MB')")
    number, unit = match.groups()
    if unit == "":
        raise ValueError(
            f"size {value!r} has no unit (use B, KiB, MiB, GiB, TiB, PiB, kB, MB, GB, TB, PB)"
        )
    factor = _SIZE_UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(
            f"unknown size unit {unit!r} in {value!r} (use B, KiB, MiB, GiB, TiB, PiB, kB, MB, GB, TB, PB)"
        )
    if "." in number:
        whole, _, frac = number.lstrip("+-").partition(".")
        # Exact arithmetic: "1.1GiB" must not depend on float rounding.
        scale = int(10 ** len(frac))
        magnitude = (int(whole or "0") * scale + int(frac or "0")) * factor // scale
        return -magnitude if number.startswith("-") else magnitude
    return int(number) * factor


def format_size(size: int) -> str:
    """A short human form using binary units: 0 B, 999 B, 1.5 KiB, 10 MiB, 4 GiB."""
    sign = "-" if size < 0 else ""
    size = abs(size)
    if size < 1024:
        return f"{sign}{size} B"
    units = ("KiB", "MiB", "GiB", "TiB", "PiB")
    for power, unit in enumerate(units, start=1):
        scaled = size / 1024**power
        if scaled < 1023.95 or unit == units[-1]:
            text = f"{scaled:.1f}".removesuffix(".0")
            return f"{sign}{text} {unit}"
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """A short human form: 150ms, 45s, 5m, 1h30m, 2d3h."""
    if not math.isfinite(seconds):
        return str(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{round(seconds * 1000)}ms"
    if seconds < 60:
        text = f"{seconds:.1f}".removesuffix(".0")
        return f"{sign}{text}s"
    total = round(seconds)
    parts: list[str] = []
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, length)
        if count:
            parts.append(f"{count}{unit}")
        if len(parts) == 2:
            break
    return sign + "".join(parts)


def _type_name(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
