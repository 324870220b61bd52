"""Safe unpacking: only the binary comes out, executable, never anything else."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from nodekeeper.core.update.errors import UnpackError
from nodekeeper.core.update.unpack import unpack_release


def _zip(path: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


def test_binary_is_unpacked_executable(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", [("storagenode", b"#!/bin/sh\necho hi\n", 0o644)])
    binary = unpack_release(archive, tmp_path / "v1", binary_name="storagenode")
    assert binary.read_bytes() == b"#!/bin/sh\necho hi\n"
    assert os.stat(binary).st_mode & stat.S_IXUSR
    assert sorted(p.name for p in (tmp_path / "v1").iterdir()) == ["storagenode"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../storagenode", "climbs out"),
        ("bin/../../storagenode", "climbs out"),
        ("/usr/bin/storagenode", "absolute path"),
        ("C:/storagenode", "absolute path"),
        ("..\\storagenode", "climbs out"),
    ],
)
def test_escaping_names_are_rejected(tmp_path: Path, name: str, problem: str) -> None:
    archive = _zip(tmp_path / "a.zip", [(name, b"x", 0o755)])
    with pytest.raises(UnpackError, match=problem):
        unpack_release(archive, tmp_path / "v1", binary_name="storagenode")
    assert not (tmp_path / "v1").exists()
    assert not (tmp_path / "storagenode").exists()


def test_symlink_is_rejected(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", [("storagenode", b"/etc/passwd", stat.S_IFLNK | 0o777)])
    with pytest.raises(UnpackError, match="symbolic link"):
        unpack_release(archive, tmp_path / "v1", binary_name="storagenode")


def test_extra_files_are_rejected(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", [("storagenode", b"x", 0o755), ("README", b"y", 0o644)])
    with pytest.raises(UnpackError, match="2 entries"):
        unpack_release(archive, tmp_path / "v1", binary_name="storagenode")


def test_wrongly_named_binary_is_rejected(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", [("evil", b"x", 0o755)])
    with pytest.raises(UnpackError, match="expected 'storagenode'"):
        unpack_release(archive, tmp_path / "v1", binary_name="storagenode")


def test_declared_size_over_bound_is_rejected(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", [("storagenode", b"\0" * 50_000, 0o755)])
    with pytest.raises(UnpackError, match="more than 10000"):
        unpack_release(archive, tmp_path / "v1", binary_name="storagenode", max_size=10_000)


def test_size_lie_in_header_is_caught_while_writing(tmp_path: Path) -> None:
    # A zip bomb announces a small size and inflates to much more.
    archive = _zip(tmp_path / "a.zip", [("storagenode", b"\0" * 1_000_000, 0o755)])
    data = bytearray(archive.read_bytes())
    real = (1_000_000).to_bytes(4, "little")
    fake = (1_000).to_bytes(4, "little")
    data = data.replace(real, fake)  # local header and central directory
    archive.write_bytes(bytes(data))
    with pytest.raises(UnpackError):
        unpack_release(archive, tmp_path / "v1", binary_name="storagenode", max_size=100_000)
    assert not (tmp_path / "v1" / "storagenode").exists()


def test_not_a_zip_is_one_line(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(UnpackError) as info:
        unpack_release(archive, tmp_path / "v1", binary_name="storagenode")
    assert "\n" not in str(info.value)
