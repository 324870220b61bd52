"""The ``updates`` part of the status JSON, built without an updater."""

from __future__ import annotations

from typing import Any

from nodekeeper.core.state import State
from nodekeeper.core.update.progress import DownloadProgress
from nodekeeper.core.update.status import update_status


def _status(state: str = "idle", *, enabled: bool = True, **kwargs: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "source": "storj",
        "last_check": None,
        "last_error": None,
        "last_failure": None,
        "next_check": None,
        "channel": None,
        "candidate": False,
        "progress": DownloadProgress("", lambda data: None),
    }
    defaults.update(kwargs)
    return update_status(State(), enabled=enabled, state=state, **defaults)


def test_an_idle_updater_with_updates_off_shows_disabled() -> None:
    assert _status(enabled=False)["state"] == "disabled"
    assert _status("checking", enabled=False)["state"] == "checking"


def test_times_are_utc_iso_and_absent_times_are_null() -> None:
    shown = _status(last_check=0.0, next_check=None)
    assert shown["last_check"] == "1970-01-01T00:00:00Z"
    assert shown["next_check"] is None


def test_progress_is_shown_only_while_downloading() -> None:
    progress = DownloadProgress("1.3.0", lambda data: None)
    progress(250, 1000)
    assert "progress" not in _status("installing", progress=progress)
    assert _status("downloading", progress=progress)["progress"] == {
        "bytes": 250,
        "total": 1000,
        "version": "1.3.0",
        "percent": 25,
    }
