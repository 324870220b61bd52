"""The mirror's audit trail: every artifact hash it has ever mirrored or refused.

One JSON object per line, appended and fsync'd, never rewritten:
``{"time", "event", "path", "sha256", "length", "url", "note"}`` with
``event`` one of ``mirrored`` (published under ``path``), ``refused``
(upstream bytes not published, ``note`` says why) and ``channel`` (the
channel changed; ``note`` holds it). Reading tolerates a last line torn by
a crash. Entries are written after the publication they describe, so a
run killed in between leaves a published hash unlogged;
:func:`unlogged` finds those and the next run logs them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.mirror_plan import Digest


@dataclass(frozen=True)
class AuditEntry:
    time: str
    event: str
    path: str
    sha256: str | None = None
    length: int | None = None
    url: str | None = None
    note: str | None = None

    @classmethod
    def at(cls, now: datetime, event: str, path: str, **fields: object) -> AuditEntry:
        return cls(now.strftime("%Y-%m-%dT%H:%M:%SZ"), event, path, **fields)  # type: ignore[arg-type]

    def to_line(self) -> bytes:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        return (json.dumps(data, sort_keys=True) + "\n").encode()


def parse_log(data: bytes) -> list[dict[str, object]]:
    """The entries of an audit log; a torn or garbled line is skipped."""
    entries = []
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def unlogged(
    entries: Iterable[Mapping[str, object]], published: Mapping[str, Digest]
) -> list[tuple[str, Digest]]:
    """Published artifacts whose hash no ``mirrored`` entry records, sorted by path."""
    logged = {(e.get("path"), e.get("sha256")) for e in entries if e.get("event") == "mirrored"}
    return sorted(
        (
            (path, digest)
            for path, digest in published.items()
            if (path, digest.sha256) not in logged
        ),
        key=lambda item: item[0],
    )


def read_log(path: Path) -> list[dict[str, object]]:
    try:
        return parse_log(path.read_bytes())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ReleaseError(f"cannot read the audit log {path}: {exc.strerror}") from None


def append_log(path: Path, entries: Iterable[AuditEntry]) -> None:
    """Append ``entries`` durably (a line torn by an earlier crash is closed first)."""
    data = b"".join(entry.to_line() for entry in entries)
    if not data:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    data = b"\n" + data
            handle.write(data)  # append mode: always at the end
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise ReleaseError(f"cannot write the audit log {path}: {exc.strerror}") from None
