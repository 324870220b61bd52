"""The node's last exit and a download's progress as sentences, for `status` and the tray.

Both read the status object (docs/contract.md, Status object and its extensions) and
tolerate missing or odd fields: a status from an older core still reads
well, just with less detail.

Pure: no I/O, nothing outside the standard library (the tray imports it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What a stop the core made was for, in the operator's words.
_STOPPED_FOR = {
    "requested": "stopped for a restart",
    "hold": "stopped",
    "shutdown": "stopped with the core",
    "unhealthy": "stopped after failed health checks",
    "memory": "stopped for using too much memory",
}
LAST_LINE_MAX = 120
_INF = float("inf")


def duration(seconds: float) -> str:
    """``3`` → ``"3 s"``, ``150`` → ``"2 min"``, ``7200`` → ``"2 h"``, ``172800`` → ``"2 d"``."""
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def _number(value: Any) -> float | None:
    # JSON readers accept Infinity (and NaN, which no comparison lets through):
    # neither is a duration or a size.
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < _INF:
        return float(value)
    return None


def last_exit_sentence(last_exit: Mapping[str, Any]) -> str:
    """E.g. "exited with code 1 after 3 s: … bind: address already in use"."""
    reason = last_exit.get("reason")
    code, signal = last_exit.get("code"), last_exit.get("signal")
    if reason == "failed-to-start":
        sentence = "failed to start"
        detail = last_exit.get("message") or last_exit.get("last_line")
        return f"{sentence}: {_shorten(str(detail))}" if detail else sentence
    if isinstance(reason, str) and reason in _STOPPED_FOR:
        sentence = _STOPPED_FOR[reason]
    elif isinstance(signal, str) and signal:
        sentence = f"killed by {signal}"
    elif isinstance(code, int) and not isinstance(code, bool):
        sentence = f"exited with code {code}"
    else:
        sentence = "exited"
    ran = _number(last_exit.get("ran_s"))
    if ran is not None:
        sentence += f" after {duration(ran)}"
    line = last_exit.get("last_line")
    if reason not in _STOPPED_FOR and isinstance(line, str) and line.strip():
        sentence += f": {_shorten(line.strip())}"
    return sentence


def _shorten(line: str) -> str:
    """The end of a long line, where Go programs put the error: "… bind: address in use"."""
    if len(line) <= LAST_LINE_MAX:
        return line
    return "… " + line[-(LAST_LINE_MAX - 2) :].lstrip()


def _size(count: float) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover - the loop always returns


def progress_sentence(updates: Mapping[str, Any]) -> str | None:
    """E.g. "downloading 1.3.0: 12.0 MiB of 48.0 MiB (25 %)"; None when not downloading."""
    if updates.get("state") != "downloading":
        return None
    progress = updates.get("progress")
    progress = progress if isinstance(progress, Mapping) else {}
    target = progress.get("version")
    sentence = f"downloading {target}" if isinstance(target, str) and target else "downloading"
    done, total = _number(progress.get("bytes")), _number(progress.get("total"))
    if done is None:
        return sentence
    if total:
        percent = min(100, int(done * 100 / total))
        return f"{sentence}: {_size(done)} of {_size(total)} ({percent} %)"
    return f"{sentence}: {_size(done)}"
