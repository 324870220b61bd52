"""The mirror's audit log: format, torn lines, and hashes a killed run did not log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from nodekeeper.core.release.audit import (
    AuditEntry,
    append_log,
    parse_log,
    read_log,
    unlogged,
)
from nodekeeper.core.release.mirror_plan import Digest

NOW = datetime(2026, 12, 1, 17, 0, 5, tzinfo=UTC)


def test_entry_is_one_json_line_without_empty_fields() -> None:
    line = AuditEntry.at(
        NOW, "mirrored", "storagenode/1.2.0/linux-amd64.zip", sha256="a" * 64
    ).to_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {
        "time": "2026-12-01T17:00:05Z",
        "event": "mirrored",
        "path": "storagenode/1.2.0/linux-amd64.zip",
        "sha256": "a" * 64,
    }


def test_torn_and_garbled_lines_are_skipped() -> None:
    data = b'{"event": "mirrored", "path": "a"}\n[1]\n{"event": "mirr'
    assert parse_log(data) == [{"event": "mirrored", "path": "a"}]


def test_unlogged_finds_published_hashes_missing_from_the_log() -> None:
    published = {"p/1.zip": Digest("1" * 64, 1), "p/2.zip": Digest("2" * 64, 2)}
    entries = [
        {"event": "mirrored", "path": "p/1.zip", "sha256": "1" * 64},
        {"event": "refused", "path": "p/2.zip", "sha256": "2" * 64},
    ]
    assert unlogged(entries, published) == [("p/2.zip", Digest("2" * 64, 2))]
    assert (
        unlogged(
            [*entries, {"event": "mirrored", "path": "p/2.zip", "sha256": "2" * 64}], published
        )
        == []
    )


def test_append_closes_a_torn_last_line_first(tmp_path: Path) -> None:
    log = tmp_path / "mirror" / "audit.jsonl"
    log.parent.mkdir()
    log.write_bytes(b'{"event": "mirrored", "path": "a"}\n{"event": "mirr')
    append_log(log, [AuditEntry.at(NOW, "channel", "channels/storagenode.json", note="x")])
    assert [e["path"] for e in read_log(log)] == ["a", "channels/storagenode.json"]
    assert read_log(tmp_path / "absent.jsonl") == []
