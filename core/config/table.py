"""Typed access to one table of a parsed TOML file, with errors naming ``file: dotted.key``.

Every getter returns ``None`` for an absent key (the key table decides what
that means) and raises :class:`~nodekeeper.core.errors.ConfigError` with one
line for a value of the wrong type or shape. No defaults and no rules that
tie keys together live here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from nodekeeper.core.errors import ConfigError
from nodekeeper.core.units import parse_duration, parse_size

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_T = TypeVar("_T")


class Table:
    def __init__(self, data: Mapping[str, Any], prefix: str, source: Path) -> None:
        self._data = data
        self._prefix = prefix
        self._source = source

    def key_name(self, key: str) -> str:
        # Quote keys TOML would quote, so odd ones (with newlines) stay on one line.
        shown = key if _BARE_KEY.fullmatch(key) else json.dumps(key)
        return f"{self._prefix}.{shown}" if self._prefix else shown

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self._source}: {self.key_name(key)}: {problem}")

    def get(self, key: str) -> Any:
        return self._data.get(key)

    def items(self) -> Iterator[tuple[str, Any]]:
        return iter(self._data.items())

    def check_keys(self, known: Iterable[str]) -> None:
        known = tuple(known)
        for key in self._data:
            if key not in known:
                import difflib  # only for this error: the common path never needs it

                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f" (did you mean {self.key_name(close[0])!r}?)" if close else ""
                raise self.error(key, f"unknown key{hint}")

    def table(self, key: str, required: bool = False) -> Table:
        value = self._data.get(key)
        if value is None:
            if required:
                raise self.error(key, f"missing section [{self.key_name(key)}]")
            value = {}
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, got {describe(value)}")
        return Table(value, self.key_name(key), self._source)

    def _typed(self, key: str, check: Callable[[Any], bool], wanted: str) -> Any:
        value = self._data.get(key)
        if value is not None and not check(value):
            raise self.error(key, f"must be {wanted}, got {describe(value)}")
        return value

    def string(self, key: str) -> str | None:
        value: str | None = self._typed(key, lambda v: isinstance(v, str), "a string")
        return value

    def boolean(self, key: str) -> bool | None:
        value: bool | None = self._typed(key, lambda v: isinstance(v, bool), "true or false")
        return value

    def integer(self, key: str) -> int | None:
        value: int | None = self._typed(
            key, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"
        )
        return value

    def number(self, key: str) -> float | None:
        value = self._typed(
            key, lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"
        )
        if value is not None and not math.isfinite(value):
            raise self.error(key, f"must be a finite number, got {value!r}")
        return None if value is None else float(value)

    def duration(self, key: str, positive: bool) -> float | None:
        value = self._data.get(key)
        if value is None:
            return None
        seconds = self.parse(key, parse_duration, value)
        if seconds < 0:
            raise self.error(key, f"negative duration {show(value)}")
        if positive and seconds == 0:
            raise self.error(key, f"must be longer than zero, got {show(value)}")
        return seconds

    def size(self, key: str) -> int | None:
        value = self._data.get(key)
        if value is None:
            return None
        size = self.parse(key, parse_size, value)
        if size < 0:
            raise self.error(key, f"negative size {show(value)}")
        return size

    def parse(self, key: str, parse: Callable[[Any], _T], value: Any) -> _T:
        """``parse(value)``, its ValueError becoming this key's one-line error."""
        try:
            return parse(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def string_list(self, key: str) -> list[str] | None:
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.error(key, f"must be a list of strings, got {describe(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(key, f"element {index} must be a string, got {describe(item)}")
            if "\0" in item:
                raise self.error(key, f"element {index} must not contain a NUL character")
        return list(value)

    def string_table(self, key: str) -> dict[str, str] | None:
        if self._data.get(key) is None:
            return None
        table = self.table(key)
        result: dict[str, str] = {}
        for name, value in table.items():
            if not name or "=" in name or "\0" in name:
                raise table.error(name, "not a valid environment variable name")
            if not isinstance(value, str):
                raise table.error(name, f"must be a string, got {describe(value)}")
            if "\0" in value:
                raise table.error(name, "must not contain a NUL character")
            result[name] = value
        return result

    def resolve(self, text: str) -> Path:
        """A path from the file: ``~`` expanded, relative to the file's folder."""
        path = Path(text).expanduser()
        return path if path.is_absolute() else self._source.parent / path

    def path(self, key: str) -> Path | None:
        value = self.string(key)
        if value is None:
            return None
        if not value.strip():
            raise self.error(key, "must not be empty")
        if "\0" in value:
            raise self.error(key, "must not contain a NUL character")
        return self.resolve(value)

    def url(self, key: str, allow_http: bool) -> str | None:
        value = self.string(key)
        if value is None:
            return None
        if any(char.isspace() or not char.isprintable() for char in value):
            raise self.error(key, f"not a valid URL {value!r} (spaces or control characters)")
        try:
            parts = urlsplit(value)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise self.error(key, f"not a valid URL {value!r} ({exc})") from None
        schemes = ("https", "http") if allow_http else ("https",)
        if parts.scheme not in schemes:
            if parts.scheme == "http":
                raise self.error(
                    key, f"must use https (set updates.allow_http for tests), got {value!r}"
                )
            raise self.error(key, f"must be an {' or '.join(schemes)} URL, got {value!r}")
        if not host:
            raise self.error(key, f"URL has no host: {value!r}")
        return value


def describe(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    return type(value).__name__


def show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)
