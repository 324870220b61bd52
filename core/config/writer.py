"""Writing configuration files, for the demo and the tests.

:func:`to_toml` writes plain TOML data (what ``tomllib`` returns, plus
paths and tuples); :func:`config_to_toml` writes a loaded :class:`Config`
so that reading it back gives the same config. Output is ASCII (other
characters are escaped), so it can be written in any locale. Nothing here
touches the disk.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import fields
from pathlib import PurePath
from typing import Any

from nodekeeper.core.config.schema import SECTIONS, Config

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def config_to_dict(config: Config) -> dict[str, Any]:
    """The TOML data that ``config_from_dict`` turns back into ``config``.

    Durations are written as seconds and sizes as bytes; unset optional keys
    are left out.
    """
    result: dict[str, Any] = {"instance": config.instance}
    for section in SECTIONS:
        obj = getattr(config, section)
        table = {f.name: getattr(obj, f.name) for f in fields(obj)}
        table = {key: value for key, value in table.items() if value is not None}
        if table:
            result[section] = _plain(table)
    return result


def config_to_toml(config: Config) -> str:
    """A TOML document for ``config``."""
    return to_toml(config_to_dict(config))


def to_toml(data: Mapping[str, Any]) -> str:
    """A TOML document for ``data``: top-level tables as ``[sections]``, deeper ones inline.

    Values may be booleans, numbers, strings, paths, lists, tuples and
    mappings; anything else (``None`` included: TOML has no null) raises
    ``TypeError``.
    """
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    for name, table in data.items():
        if isinstance(table, Mapping):
            if lines:
                lines.append("")
            lines.append(f"[{_key(name)}]")
            lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    """Paths as strings, tuples as lists, read-only mappings as dicts (what tomllib gives)."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"cannot write the key {key!r} as TOML (keys are strings)")
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        # repr gives "inf", "1e+16", "0.5": all valid TOML floats.
        return repr(value)
    if isinstance(value, str | PurePath):
        return _string(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {value!r} as TOML")


def _string(text: str) -> str:
    """A TOML basic string, ASCII only."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif 0xD800 <= code <= 0xDFFF:
            # A lone surrogate is not a character: TOML (and UTF-8) cannot hold it.
            raise TypeError(f"cannot write {text!r} as TOML (lone surrogate)")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    out.append('"')
    return "".join(out)
