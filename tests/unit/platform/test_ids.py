"""Go platform names for release artifacts."""

from __future__ import annotations

import pytest

from nodekeeper.core.platform.ids import (
    GO_ARCHES,
    GO_OSES,
    UnsupportedPlatform,
    go_arch,
    go_os,
    platform_id,
)


@pytest.mark.parametrize(
    ("sys_platform", "name"),
    [("linux", "linux"), ("darwin", "darwin"), ("win32", "windows"), ("freebsd14", "freebsd")],
)
def test_operating_systems_use_go_names(sys_platform: str, name: str) -> None:
    assert go_os(sys_platform) == name


@pytest.mark.parametrize(
    ("machine", "bits", "name"),
    [
        ("x86_64", 64, "amd64"),
        ("AMD64", 64, "amd64"),  # Windows spells it this way
        ("aarch64", 64, "arm64"),
        ("arm64", 64, "arm64"),  # macOS
        ("armv7l", 32, "arm"),
        ("armv6l", 32, "arm"),
        ("aarch64", 32, "arm"),  # 32-bit userland on a 64-bit ARM kernel
        ("x86_64", 32, "386"),
        ("i686", 32, "386"),
    ],
)
def test_architectures_follow_the_interpreter_not_the_kernel(
    machine: str, bits: int, name: str
) -> None:
    assert go_arch(machine, bits) == name


def test_unknown_platforms_are_refused_in_one_line() -> None:
    with pytest.raises(UnsupportedPlatform, match="'sunos5'"):
        go_os("sunos5")
    with pytest.raises(UnsupportedPlatform, match="'riscv64'"):
        go_arch("riscv64", 64)


def test_platform_id_of_this_machine_is_os_dash_arch() -> None:
    os_name, arch = platform_id().split("-")
    assert os_name in GO_OSES and arch in GO_ARCHES
