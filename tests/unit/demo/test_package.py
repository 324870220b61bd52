"""Building demo releases: one executable per zip, reproducible bytes, clear errors."""

from __future__ import annotations

import stat
import sys
import zipfile
from pathlib import Path

import pytest

from nodekeeper.core.demo.package import (
    ReleaseBuildError,
    build_release_binary,
    build_release_zip,
    executable_bytes,
)
from nodekeeper.core.platform.ids import platform_id


def test_zip_holds_exactly_one_executable_named_like_the_binary(tmp_path: Path) -> None:
    archive = build_release_zip("1.2.3", tmp_path / "a.zip", binary_name="storagenode")
    with zipfile.ZipFile(archive) as zipped:
        [entry] = zipped.infolist()
        assert entry.filename == "storagenode"
        assert stat.S_ISREG(entry.external_attr >> 16)
        assert stat.S_IMODE(entry.external_attr >> 16) == 0o755
        assert zipped.read(entry) == executable_bytes("1.2.3")


def test_same_version_gives_byte_identical_archives(tmp_path: Path) -> None:
    first = build_release_zip("1.2.3", tmp_path / "first.zip", os_name="linux", arch="amd64")
    second = build_release_zip("1.2.3", tmp_path / "second.zip", os_name="linux", arch="amd64")
    other = build_release_zip("1.2.4", tmp_path / "other.zip", os_name="linux", arch="amd64")
    assert first.read_bytes() == second.read_bytes()
    assert other.read_bytes() != first.read_bytes()


def test_windows_release_gets_exe_suffix_and_others_do_not(tmp_path: Path) -> None:
    windows = build_release_zip("1.0.0", tmp_path / "w.zip", os_name="windows", arch="amd64")
    darwin = build_release_zip("1.0.0", tmp_path / "d.zip", os_name="darwin", arch="arm64")
    assert zipfile.ZipFile(windows).namelist() == ["storagenode.exe"]
    assert zipfile.ZipFile(darwin).namelist() == ["storagenode"]


def test_folder_destination_gets_the_platform_file_name(tmp_path: Path) -> None:
    assert build_release_zip("1.0.0", tmp_path) == tmp_path / f"{platform_id()}.zip"
    assert build_release_zip("1.0.0", tmp_path, os_name="freebsd", arch="arm") == (
        tmp_path / "freebsd-arm.zip"
    )
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_executable_names_the_running_interpreter_and_bakes_the_version() -> None:
    text = executable_bytes("v4.5.6").decode()
    first, rest = text.split("\n", 1)
    assert first == f"#!{sys.executable}"
    assert '\nDEFAULT_VERSION = "4.5.6"\n' in rest


def test_bare_binary_is_written_executable(tmp_path: Path) -> None:
    binary = build_release_binary("1.0.0", tmp_path / "deep" / "storagenode")
    assert stat.S_IMODE(binary.stat().st_mode) == 0o755
    assert binary.read_bytes() == executable_bytes("1.0.0")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"version": "1.2"}, "not a version"),
        ({"version": "latest"}, "not a version"),
        ({"os_name": "plan9"}, "unknown os"),
        ({"arch": "mips"}, "unknown arch"),
        ({"binary_name": "../storagenode"}, "not a file name"),
        ({"binary_name": ""}, "not a file name"),
    ],
)
def test_bad_arguments_raise_one_line_release_build_error(
    tmp_path: Path, kwargs: dict[str, str], message: str
) -> None:
    args = {"version": "1.0.0", "os_name": "linux", "arch": "amd64", **kwargs}
    version = args.pop("version")
    with pytest.raises(ReleaseBuildError, match=message) as caught:
        build_release_zip(version, tmp_path / "x.zip", **args)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "x.zip").exists()


def test_interpreter_path_with_spaces_is_refused() -> None:
    with pytest.raises(ReleaseBuildError, match="#! line"):
        executable_bytes("1.0.0", interpreter="/opt/my python/bin/python3")
