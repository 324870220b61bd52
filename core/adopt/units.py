"""Reading a systemd unit file as Storj's Linux packaging writes it.

Storj's units space their assignments (``ExecStart    = /var/lib/...``)
and quote paths (``--config-dir "/etc/storagenode"``); both are plain
systemd syntax. Pure: text in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UnitFile:
    exec_start: tuple[str, ...]
    user: str | None
    working_directory: str | None


def parse_unit(text: str) -> UnitFile:
    """The [Service] settings nodekeeper needs; a missing ExecStart gives an empty tuple."""
    section = ""
    values: dict[str, str] = {}
    for raw in _logical_lines(text):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Service" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key, value = key.strip(), value.strip()
        if key == "ExecStart" and not value:
            values.pop(key, None)  # an empty assignment resets the list
            continue
        values[key] = value
    command = split_exec(values.get("ExecStart", ""))
    return UnitFile(command, values.get("User") or None, values.get("WorkingDirectory") or None)


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined, as systemd reads them."""
    lines: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "s": " "}


def split_exec(value: str) -> tuple[str, ...]:
    """Split an ExecStart= value into words (quotes, C escapes, ``%%`` and ``$$``)."""
    # Prefixes such as "-" or "@" change how systemd treats the exit code, not the argv.
    value = value.lstrip("-@:+!")
    words: list[str] = []
    word: list[str] = []
    quote = ""
    in_word = False
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            word.append(_ESCAPES.get(value[i + 1], value[i + 1]))
            in_word = True
            i += 2
            continue
        if quote:
            if char == quote:
                quote = ""
            else:
                word.append(char)
        elif char in "\"'":
            quote = char
            in_word = True
        elif char.isspace():
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        else:
            word.append(char)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(word))
    return tuple(w.replace("%%", "%").replace("$$", "$") for w in words)
