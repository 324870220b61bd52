from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest

from nodekeeper.core.logs.compress import (
    CompressionFailed,
    Compressor,
    _verify,
    compress_file,
    recover,
)
from nodekeeper.core.logs.policy import archive_name

NOW = 1_795_000_000.0


def make_archive(directory: Path, prefix: str, at: float, data: bytes) -> Path:
    path = directory / archive_name(prefix, at, [p.name for p in directory.iterdir()])
    path.write_bytes(data)
    return path


def test_compressed_archive_passes_gzip_t_and_replaces_the_original(tmp_path: Path) -> None:
    data = b"".join(b"%09d some log text\n" % i for i in range(50_000))
    source = make_archive(tmp_path, "node", NOW, data)
    result = compress_file(source)
    assert result.name == source.name + ".gz"
    assert not source.exists()
    assert [p.name for p in tmp_path.iterdir()] == [result.name]
    subprocess.run(["gzip", "-t", str(result)], check=True)
    assert gzip.decompress(result.read_bytes()) == data


@pytest.mark.parametrize("flip", [-8, -4, 20], ids=["crc", "length", "body"])
def test_read_back_that_differs_fails_the_compression(tmp_path: Path, flip: int) -> None:
    data = b"".join(b"%09d some log text\n" % i for i in range(5_000))
    damaged = bytearray(gzip.compress(data))
    damaged[flip] ^= 0x01
    archive = tmp_path / "node.log.gz.tmp"
    archive.write_bytes(bytes(damaged))
    with pytest.raises(CompressionFailed):
        _verify(archive, len(data))


def test_archive_pruned_during_compression_is_not_resurrected(tmp_path: Path) -> None:
    source = make_archive(tmp_path, "node", NOW, b"line\n" * 10)
    source.unlink()
    with pytest.raises(FileNotFoundError):
        compress_file(source)
    assert list(tmp_path.iterdir()) == []


def test_recover_removes_tmp_finishes_half_done_and_returns_the_rest_in_order(
    tmp_path: Path,
) -> None:
    done = make_archive(tmp_path, "node", NOW, b"a\n")
    (tmp_path / (done.name + ".gz")).write_bytes(gzip.compress(b"a\n"))  # deleted .log missed
    interrupted = make_archive(tmp_path, "node", NOW + 1, b"b\n")
    (tmp_path / (interrupted.name + ".gz.tmp")).write_bytes(b"\x1f\x8b half")
    later = make_archive(tmp_path, "node", NOW + 2, b"c\n")
    (tmp_path / "node.log").write_bytes(b"current\n")
    other = make_archive(tmp_path, "nodekeeper-node", NOW, b"core\n")
    (tmp_path / (other.name + ".gz.tmp")).write_bytes(b"other family")

    pending = recover(tmp_path, "node")

    assert pending == [interrupted, later]
    assert not done.exists() and (tmp_path / (done.name + ".gz")).exists()
    assert not (tmp_path / (interrupted.name + ".gz.tmp")).exists()
    assert (tmp_path / "node.log").read_bytes() == b"current\n"
    assert (tmp_path / (other.name + ".gz.tmp")).exists()  # not this family's


def test_compressor_thread_compresses_in_queue_order_and_reports_each(tmp_path: Path) -> None:
    done: list[int] = []
    compressor = Compressor(on_done=lambda: done.append(1))
    compressor.start()
    try:
        paths = [make_archive(tmp_path, "node", NOW + i, b"x\n" * 1000) for i in range(3)]
        for path in paths:
            compressor.submit(path)
        assert compressor.wait_idle(30)
    finally:
        compressor.close()
    assert len(done) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name + ".gz" for p in paths)


def test_two_workers_compress_every_archive(tmp_path: Path) -> None:
    done: list[int] = []
    compressor = Compressor(on_done=lambda: done.append(1), workers=2)
    compressor.start()
    try:
        paths = [make_archive(tmp_path, "node", NOW + i, b"y\n" * 100_000) for i in range(6)]
        for path in paths:
            compressor.submit(path)
        assert compressor.wait_idle(30)
    finally:
        compressor.close()
    assert len(done) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name + ".gz" for p in paths)
    for path in paths:
        assert gzip.decompress((tmp_path / (path.name + ".gz")).read_bytes()) == b"y\n" * 100_000


def test_a_failed_archive_waits_for_its_retry_with_two_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nodekeeper.core.logs.compress as compress

    attempts: list[Path] = []

    def failing(path: Path, *args: object) -> Path:
        attempts.append(path)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(compress, "compress_file", failing)
    compressor = Compressor(workers=2)
    compressor.start()
    try:
        compressor.submit(make_archive(tmp_path, "node", NOW, b"z\n"))
        compressor.submit(make_archive(tmp_path, "node", NOW + 1, b"z\n"))
        assert compressor.wait_idle(30)
        # The other worker's wake-up must not retry at once (that would spin).
        with compressor._lock:
            assert not compressor._lock.wait_for(lambda: len(attempts) > 2, 0.3)
    finally:
        compressor.close()
    assert len(attempts) == 2
