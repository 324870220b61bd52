"""Big artifacts, cut connections and a full disk on the client side."""

from __future__ import annotations

import contextlib
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodekeeper.core.update.download import download_file
from nodekeeper.core.update.errors import DownloadError, NotEnoughSpace
from tests.fixtures.fault_server import FaultServer, Rule
from tests.fixtures.fault_server import fault_server as fault_server
from tests.fixtures.releases import Publisher, client, installed_files, mirror_of, now

MiB = 1 << 20


def _big_zip(path: Path, size: int) -> Path:
    raw = path.with_suffix(".bin")
    with open(raw, "wb") as out:
        for _ in range(size // MiB):
            out.write(os.urandom(MiB))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.write(raw, "storagenode")
    raw.unlink()
    return path


@pytest.mark.slow
def test_200mib_download_cut_at_half_resumes_with_only_the_rest(
    tmp_path: Path, fault_server: FaultServer
) -> None:
    publisher = Publisher(tmp_path / "pub")
    archive = _big_zip(tmp_path / "big.zip", 200 * MiB)
    publisher.open().add_targets({"storagenode/2.0.0/linux-amd64.zip": archive}, now())
    publisher.channel(suggested="2.0.0", rollout_percent=100.0)
    mirror_of(publisher.repo_dir, fault_server.root)
    size = archive.stat().st_size
    half = size // 2
    fault_server.rules[".linux-amd64.zip"] = Rule(cut_after=half)
    data_dir = tmp_path / "node"
    source = client(fault_server.url, publisher, data_dir)
    channel = source.fetch_channel()
    assert channel.suggested is not None
    info = source.artifact_info(channel.suggested.url, "linux", "amd64")
    with pytest.raises(DownloadError, match="will resume"):
        source.download(info, data_dir / "downloads", min_free_space=0)
    assert installed_files(data_dir) == []
    fault_server.rules.clear()
    first = fault_server.bytes_sent(".linux-amd64.zip")
    path = source.download(info, data_dir / "downloads", min_free_space=0)
    second = fault_server.bytes_sent(".linux-amd64.zip") - first
    assert first == half
    assert second == size - half, "the second attempt must transfer only the missing half"
    assert fault_server.requests[-1].range == f"bytes={half}-"
    assert path.stat().st_size == size
    assert installed_files(data_dir) == [path.name]


@contextlib.contextmanager
def _tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    mountpoint.mkdir(parents=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {result.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.mark.root
@needs_root
def test_small_disk_is_refused_before_download(tmp_path: Path, fault_server: FaultServer) -> None:
    publisher = Publisher(tmp_path / "pub")
    archive = _big_zip(tmp_path / "a.zip", 4 * MiB)  # needs 12 MiB + reserve on an 8 MiB disk
    publisher.open().add_targets({"storagenode/2.0.0/linux-amd64.zip": archive}, now())
    publisher.channel(suggested="2.0.0", rollout_percent=100.0)
    mirror_of(publisher.repo_dir, fault_server.root)
    with _tmpfs(tmp_path / "small", "8m") as small:
        source = client(fault_server.url, publisher, tmp_path / "node")
        channel = source.fetch_channel()
        assert channel.suggested is not None
        info = source.artifact_info(channel.suggested.url, "linux", "amd64")
        with pytest.raises(NotEnoughSpace, match="not enough disk space") as err:
            source.download(info, small / "downloads", min_free_space=0)
        assert "\n" not in str(err.value)
        assert list((small / "downloads").iterdir()) == []
        assert fault_server.bytes_sent(".linux-amd64.zip") == 0


@pytest.mark.root
@needs_root
def test_disk_filling_up_during_download_removes_partial(
    tmp_path: Path, fault_server: FaultServer
) -> None:
    (fault_server.root / "big.zip").write_bytes(os.urandom(12 * MiB))
    # No length known in advance (a plain-HTTPS source without metadata): the
    # disk fills up mid-transfer.
    fault_server.rules["big.zip"] = Rule(announce_length=False)
    with _tmpfs(tmp_path / "small", "8m") as small:
        with pytest.raises(NotEnoughSpace, match="disk full") as err:
            download_file(
                fault_server.url + "big.zip",
                small / "downloads",
                expected_length=None,
                expected_sha256=None,
                max_length=100 * MiB,
                min_free_space=0,
                allow_http=True,
            )
        assert "\n" not in str(err.value)
        assert list((small / "downloads").iterdir()) == []
