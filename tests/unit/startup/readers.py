"""Independent readers of the formats the service plans write.

They read a line back the way systemd and desktop environments do (by the
rules in systemd.syntax(7) / systemd.service(5) and the Desktop Entry
spec), so tests can check that what nodekeeper writes means what it says.
"""

from __future__ import annotations

import re

_C_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "s": " "}


def _systemd_words(line: str) -> list[str]:
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        word: list[str] = []
        while i < n and line[i] not in " \t":
            char = line[i]
            if char == '"':
                i += 1
                while line[i] != '"':
                    if line[i] == "\\":
                        word.append(_C_ESCAPES[line[i + 1]])
                        i += 2
                    else:
                        word.append(line[i])
                        i += 1
                i += 1
            elif char == "\\":
                word.append(_C_ESCAPES[line[i + 1]])
                i += 2
            else:
                word.append(char)
                i += 1
        words.append("".join(word))
    return words


def _unspecify(word: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) != "%":
            raise AssertionError(f"unexpected specifier %{match.group(1)} in {word!r}")
        return "%"

    return re.sub(r"%(.)", one, word)


def _unvariable(word: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) != "$":
            raise AssertionError(f"unexpected variable ${match.group(1)} in {word!r}")
        return "$"

    return re.sub(r"\$(.)", one, word)


def systemd_exec_argv(value: str) -> list[str]:
    """The argv systemd runs for an ExecStart= value."""
    return [_unvariable(_unspecify(w)) for w in _systemd_words(value)]


def systemd_environment(value: str) -> dict[str, str]:
    """The variables an Environment= value sets."""
    pairs = [_unspecify(w) for w in _systemd_words(value)]
    return dict(p.split("=", 1) for p in pairs)


def unit_settings(text: str) -> dict[str, list[str]]:
    """``Section.Key`` → values, in order, from a unit file."""
    settings: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, value = line.split("=", 1)
        settings.setdefault(f"{section}.{key}", []).append(value)
    return settings


def desktop_entries(text: str) -> dict[str, str]:
    lines = text.splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if line and not line.startswith("#"))


def desktop_exec_argv(value: str) -> list[str]:
    """The argv of an Exec= value (Desktop Entry spec: string escapes, then quoting)."""
    text = []
    i = 0
    while i < len(value):
        if value[i] == "\\":
            text.append({"\\": "\\", "s": " ", "n": "\n", "t": "\t", "r": "\r"}[value[i + 1]])
            i += 2
        else:
            text.append(value[i])
            i += 1
    line = "".join(text)
    argv: list[str] = []
    i = 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        word: list[str] = []
        if line[i] == '"':
            i += 1
            while line[i] != '"':
                if line[i] == "\\":
                    assert line[i + 1] in '"`$\\', f"bad escape in {line!r}"
                    word.append(line[i + 1])
                    i += 2
                else:
                    word.append(line[i])
                    i += 1
            i += 1
            assert i >= len(line) or line[i] == " ", f"quote must end the argument: {line!r}"
        else:
            while i < len(line) and line[i] != " ":
                assert line[i] not in "\"'\\><~|&;$*?#()`\t", f"unquoted reserved char: {line!r}"
                word.append(line[i])
                i += 1
        argv.append(_unspecify("".join(word)))
    return argv
