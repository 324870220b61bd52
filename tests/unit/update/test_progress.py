"""Download progress: update-progress every 5 % and at the end, status always current."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.update.progress import DownloadProgress


def test_publishes_every_five_percent_and_at_the_end() -> None:
    sent: list[dict[str, Any]] = []
    progress = DownloadProgress("1.2.3", sent.append)
    for done in range(0, 1001, 10):
        progress(done, 1000)
    assert [d["bytes"] for d in sent] == list(range(0, 1001, 50))
    assert sent[-1] == {"version": "1.2.3", "bytes": 1000, "total": 1000}
    assert (progress.done, progress.total) == (1000, 1000)


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=200))
def test_never_more_than_one_event_per_step_plus_the_end(chunks: list[int]) -> None:
    total = sum(chunks)
    sent: list[dict[str, Any]] = []
    progress = DownloadProgress("1.0.0", sent.append)
    done = 0
    for chunk in chunks:
        done += chunk
        progress(done, total)
    assert sent[-1]["bytes"] == total
    assert len(sent) <= 21 + 1
    steps = [d["bytes"] * 20 // total for d in sent]
    assert steps == sorted(set(steps))  # at most one event per 5 % step


def test_unknown_total_still_reports_the_bytes() -> None:
    sent: list[dict[str, Any]] = []
    progress = DownloadProgress("1.0.0", sent.append)
    progress(4096, 0)
    assert progress.done == 4096 and sent[0]["total"] == 0
