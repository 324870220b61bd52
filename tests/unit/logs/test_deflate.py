"""The gzip engine: ISA-L where installed, zlib otherwise; both write plain gzip."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator

import pytest

from nodekeeper.core.logs import deflate

TEXT = b"".join(
    b"%09d the node said something about piece %d\n" % (i, i * 7) for i in range(50_000)
)


@pytest.fixture(params=["installed", "zlib only"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    deflate._isal.cache_clear()
    if request.param == "zlib only":
        monkeypatch.setitem(sys.modules, "isal", None)  # as on a machine without its wheel
    try:
        yield deflate.engine()
    finally:
        deflate._isal.cache_clear()


def test_archives_are_plain_gzip_and_read_back_in_bounded_pieces(engine: str) -> None:
    compressor = deflate.gzip_compressor(1)
    archive = b"".join(compressor.compress(TEXT[i : i + 65536]) for i in range(0, len(TEXT), 65536))
    archive += compressor.flush()
    assert gzip.decompress(archive) == TEXT
    decompressor = deflate.gzip_decompressor()
    pieces = []
    block = archive
    while block:
        pieces.append(decompressor.decompress(block, 4096))
        assert len(pieces[-1]) <= 4096
        block = decompressor.unconsumed_tail
    pieces.append(decompressor.flush())
    assert b"".join(pieces) == TEXT
    assert decompressor.eof and not decompressor.unused_data


def test_a_damaged_archive_raises_one_of_the_engines_errors(engine: str) -> None:
    damaged = bytearray(gzip.compress(TEXT, compresslevel=1))
    damaged[-8] ^= 0xFF  # the CRC-32 in the trailer
    decompressor = deflate.gzip_decompressor()
    with pytest.raises(deflate.errors()):
        decompressor.decompress(bytes(damaged))
        decompressor.flush()


def test_without_isal_zlib_does_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    deflate._isal.cache_clear()
    monkeypatch.setitem(sys.modules, "isal", None)
    try:
        assert deflate.engine() == "zlib"
        assert deflate.errors() == (__import__("zlib").error,)
    finally:
        deflate._isal.cache_clear()


def test_isal_is_installed_where_pyproject_asks_for_it() -> None:
    import platform

    deflate._isal.cache_clear()
    if platform.machine() not in ("x86_64", "AMD64", "aarch64", "arm64"):
        pytest.skip(f"no isal wheel for {platform.machine()}: zlib is expected here")
    assert deflate.engine() == "isal"
