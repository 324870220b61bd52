"""Rotation and pruning decisions for log files (pure: no I/O, time is an argument).

The writer and the compressor ask these functions what to do; they never
decide on their own. File names carry the rotation time so that order and
age can be read from the name alone:

    <prefix>.log                                  the current file
    <prefix>-20261127T053816.123Z.log             an archive waiting for compression
    <prefix>-20261127T053816.123Z-2.log.gz        a compressed archive (counter when the
                                                  same millisecond was already taken)
    <prefix>-20261127T053816.123Z.log.gz.tmp      a compression in progress
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_STAMP_FORMAT = "%Y%m%dT%H%M%S"


@dataclass(frozen=True, order=True)
class ArchiveKey:
    """Where an archive sits in time: rotation time (UTC seconds) and tie-break counter."""

    timestamp: float
    counter: int


@dataclass(frozen=True)
class LogFile:
    """One file of an instance's logs as the pruning policy sees it."""

    name: str
    size: int
    key: ArchiveKey | None  # None: a current file (never deleted)
    in_progress: bool = False  # a .gz.tmp being written: counted, never chosen


def format_stamp(now: float) -> str:
    """UTC time with milliseconds as used in archive names: 20261127T053816.123Z."""
    millis = round(now * 1000)
    seconds, ms = divmod(millis, 1000)
    moment = _dt.datetime.fromtimestamp(seconds, _dt.UTC)
    return f"{moment.strftime(_STAMP_FORMAT)}.{ms:03d}Z"


def _archive_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(
        "^" + re.escape(prefix) + r"-(\d{8}T\d{6})\.(\d{3})Z(?:-(\d+))?\.log(\.gz|\.gz\.tmp)?$"
    )


def parse_archive(prefix: str, name: str) -> tuple[ArchiveKey, str] | None:
    """(key, suffix) of an archive name of this prefix, or None if it is not one.

    suffix is "" (uncompressed), ".gz" or ".gz.tmp".
    """
    match = _archive_pattern(prefix).match(name)
    if match is None:
        return None
    stamp, ms, counter, suffix = match.groups()
    try:
        moment = _dt.datetime.strptime(stamp, _STAMP_FORMAT).replace(tzinfo=_dt.UTC)
    except ValueError:
        return None
    key = ArchiveKey(moment.timestamp() + int(ms) / 1000, int(counter or 0))
    return key, suffix or ""


def archive_name(prefix: str, now: float, existing: Iterable[str]) -> str:
    """A new, unique archive name for a rotation at ``now``.

    Names never go back in time: if the clock stepped backwards, the newest
    existing stamp is reused with a higher counter, so name order stays
    rotation order.
    """
    newest: ArchiveKey | None = None
    for name in existing:
        parsed = parse_archive(prefix, name)
        if parsed is not None and (newest is None or parsed[0] > newest):
            newest = parsed[0]
    stamp = format_stamp(now)
    key = ArchiveKey(round(now * 1000) / 1000, 0)
    if newest is not None and key <= newest:
        stamp = format_stamp(newest.timestamp)
        counter = newest.counter + 1
        return f"{prefix}-{stamp}-{counter}.log"
    return f"{prefix}-{stamp}.log"


def bytes_before_rotation(data: bytes, current_size: int, max_file_size: int) -> int:
    """How many leading bytes of ``data`` (whole lines) go into the current file.

    Returns ``len(data)`` when everything fits. A smaller result means: write
    that many bytes, rotate, then continue with the rest. 0 means rotate
    before writing anything. A single line longer than ``max_file_size`` is
    written alone into an empty file, because lines are never split here.
    """
    room = max_file_size - current_size
    if len(data) <= room:
        return len(data)
    if room > 0:
        cut = data.rfind(b"\n", 0, room)
        if cut >= 0:
            return cut + 1
    if current_size > 0:
        return 0
    first = data.find(b"\n")
    return len(data) if first < 0 else first + 1


def plan_prune(
    files: Sequence[LogFile], now: float, max_age: float, max_total_size: int
) -> list[str]:
    """Names of archives to delete, oldest first.

    First every archive older than ``max_age``; then, oldest first, archives
    until the total size of all files is at most ``max_total_size``. Current
    files and compressions in progress are counted but never chosen.
    """
    archives = sorted(
        (f for f in files if f.key is not None and not f.in_progress),
        key=lambda f: (f.key, f.name.endswith(".gz")),
    )
    total = sum(f.size for f in files)
    doomed: list[str] = []
    for archive in archives:
        assert archive.key is not None
        if now - archive.key.timestamp > max_age or total > max_total_size:
            doomed.append(archive.name)
            total -= archive.size
    return doomed


def format_marker(now: float, lines: int, reasons: Sequence[str]) -> bytes:
    """The line written where lines had to be dropped."""
    moment = _dt.datetime.fromtimestamp(now, _dt.UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"
    return f"{stamp} nodekeeper: {lines} lines dropped: {', '.join(reasons)}\n".encode()
