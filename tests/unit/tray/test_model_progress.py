"""The tray shows an update's version and percent, and keeps why the last one failed."""

from __future__ import annotations

import copy
from typing import Any

from nodekeeper.tray.model import InstanceModel, instance_items, parse_status, status_line, tooltip
from tests.unit.tray.protocol_server import sample_status


def connected(status: dict[str, Any]) -> InstanceModel:
    model = InstanceModel("/run/nk.sock", "sn1").connected({"instance": "sn1"}, 0.0)
    return model.with_status(parse_status(status))


def downloading(done: int, total: int) -> dict[str, Any]:
    status = copy.deepcopy(sample_status())
    status["updates"]["state"] = "downloading"
    status["updates"]["progress"] = {"bytes": done, "total": total}
    return status


def test_progress_events_show_version_and_percent() -> None:
    model = connected(sample_status()).with_event(
        "update-started", {"from": "1.2.3", "to": "1.3.0"}
    )
    model = model.with_event("update-progress", {"version": "1.3.0", "bytes": 42, "total": 100})
    assert status_line(model).endswith("updating to v1.3.0: 42 %")
    # The status refresh after the event keeps the version and follows the bytes.
    model = model.with_status(parse_status(downloading(60, 100)))
    assert status_line(model).endswith("updating to v1.3.0: 60 %")


def test_progress_ends_when_the_updater_is_idle_again() -> None:
    model = connected(downloading(10, 100))
    assert "10 %" in status_line(model)
    model = model.with_event("update-installed", {"version": "1.3.0"})
    model = model.with_status(parse_status(sample_status()))
    assert "%" not in status_line(model)


def test_the_reason_of_a_rollback_is_kept_after_the_status_moves_on() -> None:
    model = connected(sample_status()).with_event(
        "rolled-back", {"from": "1.3.0", "to": "1.2.3", "reason": "health check failed"}
    )
    model = model.with_status(parse_status(sample_status()))
    expected = "rolled back from 1.3.0 to 1.2.3: health check failed"
    assert expected in tooltip([model])
    assert instance_items(model)[0].tooltip == "Last problem: " + expected


def test_a_failed_update_is_kept_with_its_version_and_reason() -> None:
    model = connected(downloading(5, 100)).with_event(
        "update-failed", {"step": "verify", "version": "1.3.0", "reason": "bad signature"}
    )
    assert model.last_failure == "update to 1.3.0 failed: bad signature"
    assert model.progress is None


def test_a_nonsense_total_never_shows_a_percent() -> None:
    model = connected(downloading(5, 0))
    assert "%" not in status_line(model)
