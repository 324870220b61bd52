from __future__ import annotations

import pytest

from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.sources.github import parse_checksum, parse_signature, pick_asset

STORJ_ASSETS = [
    "identity_linux_amd64.zip",
    "storagenode_linux_amd64.zip",
    "storagenode_linux_arm.zip",
    "storagenode_linux_arm64.zip",
    "storagenode_darwin_amd64.zip",
    "storagenode_windows_amd64.exe.zip",
    "storagenode-updater_linux_amd64.zip",
    "storagenode_windows_amd64.msi",
    "uplink_linux_amd64.zip",
]


@pytest.mark.parametrize(
    ("os_name", "arch", "expected"),
    [
        ("linux", "amd64", "storagenode_linux_amd64.zip"),
        ("linux", "arm", "storagenode_linux_arm.zip"),
        ("linux", "arm64", "storagenode_linux_arm64.zip"),
        ("windows", "amd64", "storagenode_windows_amd64.exe.zip"),
        ("darwin", "arm64", None),
        ("freebsd", "amd64", None),
    ],
)
def test_picks_the_process_zip_for_the_platform(
    os_name: str, arch: str, expected: str | None
) -> None:
    assert pick_asset(STORJ_ASSETS, "storagenode", os_name, arch) == expected


def test_single_zip_for_platform_is_taken_whatever_its_name() -> None:
    assert pick_asset(
        ["tool-linux-x86_64.zip", "tool.sha256"], "storagenode", "linux", "amd64"
    ) == ("tool-linux-x86_64.zip")
    assert (
        pick_asset(["tool_linux_armv7.zip"], "storagenode", "linux", "arm")
        == "tool_linux_armv7.zip"
    )


def test_ambiguous_assets_are_refused() -> None:
    with pytest.raises(UpdateError, match="several release assets fit"):
        pick_asset(["a_linux_amd64.zip", "b_linux_amd64.zip"], "storagenode", "linux", "amd64")


def test_checksum_formats() -> None:
    digest = "AB" * 32
    assert parse_checksum(f"{digest}\n", "x.zip", "x.zip.sha256") == digest.lower()
    assert parse_checksum(f"{digest} *x.zip\n", "x.zip", "x.zip.sha256") == digest.lower()
    assert parse_checksum(f"{digest}  ./x.zip\n", "x.zip", "checksums.txt") == digest.lower()
    assert parse_checksum(f"{digest}  y.zip\n", "x.zip", "checksums.txt") is None
    with pytest.raises(UpdateError, match="holds no SHA-256"):
        parse_checksum("md5sum  x.zip\n", "x.zip", "checksums.txt")


def test_signature_formats() -> None:
    sig = bytes(range(64))
    assert parse_signature(sig, "s") == sig
    assert parse_signature(sig.hex().encode() + b"\n", "s") == sig
    with pytest.raises(UpdateError, match="not an ed25519 signature"):
        parse_signature(b"zz" * 64, "s")
    with pytest.raises(UpdateError, match="not an ed25519 signature"):
        parse_signature(b"short", "s")


NODEKEEPER_ASSETS = [
    "nodekeeper-0.3.0-linux-amd64.tar.gz",
    "nodekeeper-0.3.0-linux-amd64.tar.gz.sha256",
    "nodekeeper-0.3.0-linux-amd64.tar.gz.sig",
    "nodekeeper-tray-0.3.0-linux-amd64.tar.gz",
    "nodekeeper-0.3.0-windows-amd64.zip",
    "nodekeeper_0.3.0_amd64.deb",
]
BUNDLES = (".tar.gz", ".zip")


@pytest.mark.parametrize(
    ("os_name", "arch", "expected"),
    [
        ("linux", "amd64", "nodekeeper-0.3.0-linux-amd64.tar.gz"),
        ("windows", "amd64", "nodekeeper-0.3.0-windows-amd64.zip"),
        ("linux", "arm64", None),
    ],
)
def test_core_bundles_are_tarballs_or_zips_and_not_the_tray(
    os_name: str, arch: str, expected: str | None
) -> None:
    assert pick_asset(NODEKEEPER_ASSETS, "nodekeeper", os_name, arch, BUNDLES) == expected


def test_node_releases_still_take_only_zips() -> None:
    assert pick_asset(NODEKEEPER_ASSETS, "nodekeeper", "linux", "amd64") is None
