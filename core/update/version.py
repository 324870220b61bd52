"""Release versions: semantic versioning 2.0, as Storj's version server uses it.

A version is ``MAJOR.MINOR.PATCH`` with an optional ``-pre.release``
part and optional ``+build`` metadata; a leading ``v`` is accepted
(Storj tags releases ``v1.2.3``). Parsing is strict: numbers have no
leading zeros, identifiers are ``[0-9A-Za-z-]`` and never empty.
Ordering follows semver 2.0 section 11; build metadata is kept for
display but ignored for ordering and equality. This module does no I/O.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

_NUMBER = r"0|[1-9][0-9]*"
_IDENT = r"[0-9A-Za-z-]+"
_PATTERN = re.compile(
    rf"v?(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>{_IDENT}(?:\.{_IDENT})*))?"
    rf"(?:\+(?P<build>{_IDENT}(?:\.{_IDENT})*))?",
    re.ASCII,
)
_NUMERIC = re.compile(r"[0-9]+", re.ASCII)

# Sort key of one pre-release identifier: numeric identifiers sort
# numerically and before alphanumeric ones, which sort by ASCII.
_IdentKey = tuple[int, int, str]


def _ident_key(ident: str) -> _IdentKey:
    if _NUMERIC.fullmatch(ident):
        return (0, int(ident), "")
    return (1, 0, ident)


@dataclass(frozen=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``"v1.2.3"``, ``"1.2.3-rc.1+build.5"``; raise ValueError on anything else."""
        if not isinstance(text, str):
            raise ValueError(f"not a version: {text!r}")
        return _parse(text)

    @classmethod
    def _parse_uncached(cls, text: str) -> Version:
        match = _PATTERN.fullmatch(text)
        if match is None:
            raise ValueError(f"not a version: {text!r}")
        pre = tuple(match["pre"].split(".")) if match["pre"] else ()
        for ident in pre:
            if _NUMERIC.fullmatch(ident) and len(ident) > 1 and ident[0] == "0":
                raise ValueError(f"not a version: {text!r} (leading zero in {ident!r})")
        build = tuple(match["build"].split(".")) if match["build"] else ()
        return cls(int(match["major"]), int(match["minor"]), int(match["patch"]), pre, build)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self) -> tuple[int, int, int, int, tuple[_IdentKey, ...]]:
        # A release sorts after all of its pre-releases.
        return (
            self.major,
            self.minor,
            self.patch,
            0 if self.prerelease else 1,
            tuple(_ident_key(i) for i in self.prerelease),
        )

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() >= other._key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text


# Channels repeat the same few version strings on every check.
_parse = functools.lru_cache(maxsize=1024)(Version._parse_uncached)
