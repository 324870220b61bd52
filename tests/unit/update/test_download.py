"""Resumable verified downloads against a real (misbehaving) HTTP server."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from nodekeeper.core.update.download import download_file
from nodekeeper.core.update.download_policy import DownloadLimits
from nodekeeper.core.update.errors import DownloadError, NotEnoughSpace, VerificationError
from tests.fixtures.fault_server import FaultServer, Rule
from tests.fixtures.fault_server import fault_server as fault_server

DATA = os.urandom(3 * 1024 * 1024 + 17)
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def served(fault_server: FaultServer) -> FaultServer:
    (fault_server.root / "art.zip").write_bytes(DATA)
    return fault_server


def _get(server: FaultServer, dest: Path, **kw: object) -> Path:
    args: dict[str, object] = {
        "expected_length": len(DATA),
        "expected_sha256": SHA,
        "max_length": len(DATA),
        "min_free_space": 0,
        "allow_http": True,
    }
    args.update(kw)
    return download_file(server.url + "art.zip", dest, **args)  # type: ignore[arg-type]


def test_download_verifies_and_reports_progress(served: FaultServer, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    path = _get(served, tmp_path / "dl", progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == DATA
    assert seen[-1] == (len(DATA), len(DATA))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_verified_file_is_not_fetched_again(served: FaultServer, tmp_path: Path) -> None:
    _get(served, tmp_path / "dl")
    count = len(served.requests)
    _get(served, tmp_path / "dl")
    assert len(served.requests) == count


def test_cut_connection_resumes_with_range(served: FaultServer, tmp_path: Path) -> None:
    served.rules["art.zip"] = Rule(cut_after=1_000_000)
    with pytest.raises(DownloadError, match="will resume") as info:
        _get(served, tmp_path / "dl")
    assert "\n" not in str(info.value)
    served.rules.clear()
    path = _get(served, tmp_path / "dl")
    assert path.read_bytes() == DATA
    last = served.requests[-1]
    assert last.range == "bytes=1000000-" and last.status == 206
    assert last.bytes_sent == len(DATA) - 1_000_000


def test_server_ignoring_range_restarts_cleanly(served: FaultServer, tmp_path: Path) -> None:
    served.rules["art.zip"] = Rule(cut_after=500_000)
    with pytest.raises(DownloadError):
        _get(served, tmp_path / "dl")
    served.rules["art.zip"] = Rule(honour_range=False)
    assert _get(served, tmp_path / "dl").read_bytes() == DATA


def test_hash_mismatch_removes_partial(served: FaultServer, tmp_path: Path) -> None:
    with pytest.raises(VerificationError, match="SHA-256"):
        _get(served, tmp_path / "dl", expected_sha256="0" * 64)
    assert list((tmp_path / "dl").iterdir()) == []


def test_corrupt_partial_from_earlier_is_detected_and_removed(
    served: FaultServer, tmp_path: Path
) -> None:
    served.rules["art.zip"] = Rule(cut_after=1_000_000)
    with pytest.raises(DownloadError):
        _get(served, tmp_path / "dl")
    part = next((tmp_path / "dl").glob("*.part"))
    part.write_bytes(b"\xff" * part.stat().st_size)  # the disk garbled what was kept
    served.rules.clear()
    with pytest.raises(VerificationError):
        _get(served, tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []
    assert _get(served, tmp_path / "dl").read_bytes() == DATA


def test_more_data_than_announced_is_cut_off(served: FaultServer, tmp_path: Path) -> None:
    served.rules["art.zip"] = Rule(extra_bytes=50_000_000)
    with pytest.raises(VerificationError, match="more than"):
        _get(served, tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []
    assert served.bytes_sent("art.zip") < 20_000_000


def test_length_cap_without_expected_length(served: FaultServer, tmp_path: Path) -> None:
    with pytest.raises(VerificationError, match="more than"):
        _get(served, tmp_path / "dl", expected_length=None, expected_sha256=None, max_length=1000)


@pytest.mark.parametrize("status", [404, 500])
def test_http_errors_are_one_line(served: FaultServer, tmp_path: Path, status: int) -> None:
    served.rules["art.zip"] = Rule(status=status)
    with pytest.raises(DownloadError, match=f"HTTP {status}"):
        _get(served, tmp_path / "dl")


def test_trickle_is_abandoned_and_partial_kept(served: FaultServer, tmp_path: Path) -> None:
    served.rules["art.zip"] = Rule(trickle_delay=0.005)
    limits = DownloadLimits(connect_timeout=2, read_timeout=2, min_rate=100_000, rate_window=0.5)
    with pytest.raises(DownloadError, match="too slow"):
        _get(served, tmp_path / "dl", limits=limits)
    assert next((tmp_path / "dl").glob("*.part")).stat().st_size > 0
    assert not [t for t in threading.enumerate() if t.name == "download-hash"], (
        "hash thread left behind"
    )


def test_not_enough_space_is_refused_before_any_request(
    served: FaultServer, tmp_path: Path
) -> None:
    with pytest.raises(NotEnoughSpace, match="not enough disk space"):
        _get(served, tmp_path / "dl", min_free_space=1 << 60)
    assert served.requests == []


def test_plain_http_needs_allow_http(served: FaultServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="only https"):
        _get(served, tmp_path / "dl", allow_http=False)
    assert served.requests == []


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    from tests.helpers import free_port

    with pytest.raises(DownloadError) as info:
        download_file(
            f"http://127.0.0.1:{free_port()}/x.zip",
            tmp_path,
            expected_length=10,
            expected_sha256=SHA,
            max_length=10,
            min_free_space=0,
            allow_http=True,
        )
    assert "\n" not in str(info.value) and "127.0.0.1" in str(info.value)


def test_unusable_download_folder_is_one_line(served: FaultServer, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DownloadError, match="cannot use") as info:
        _get(served, blocker / "dl")
    assert "\n" not in str(info.value)
