"""The core's install store: complete versions only, checked bundles, prune keeps what runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.selfupdate.manifest import ManifestError, read_manifest
from nodekeeper.core.selfupdate.state import SelfUpdateState, Trying
from nodekeeper.core.selfupdate.store import CoreStore
from nodekeeper.core.state import StateStore
from nodekeeper.core.update.errors import UnpackError
from tests.fixtures.core_bundles import core_bundle

PLATFORM = "linux-amd64"


def store(tmp_path: Path) -> CoreStore:
    return CoreStore(tmp_path / "data", platform=PLATFORM)


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_install_puts_the_bundle_in_a_versioned_folder(tmp_path: Path, fmt: str) -> None:
    cores = store(tmp_path)
    archive = core_bundle(tmp_path / "dist", "0.4.0", platform=PLATFORM, fmt=fmt)
    folder = cores.install_archive("0.4.0", archive)
    assert folder == tmp_path / "data" / "core" / "versions" / "0.4.0"
    assert cores.has("0.4.0") and cores.installed() == ("0.4.0",)
    assert cores.executable("0.4.0") == folder / "nodekeeper"
    assert os.access(cores.executable("0.4.0"), os.X_OK)
    assert (folder / "_internal" / "lib.txt").read_bytes() == b"library\n"
    assert read_manifest(folder).version == "0.4.0"
    assert [p.name for p in cores.root.iterdir()] == ["0.4.0"]


def test_an_interrupted_install_leaves_only_a_temp_folder(tmp_path: Path) -> None:
    cores = store(tmp_path)
    staging = cores.staging_dir("0.4.0")  # what a crash mid-unpack leaves
    (staging / "nodekeeper").write_text("half")
    assert cores.installed() == () and not cores.has("0.4.0")
    assert cores.remove_incomplete() == ["0.4.0.tmp"]
    assert list(cores.root.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        (
            {
                "manifest": {
                    "name": "nodekeeper",
                    "version": "0.5.0",
                    "platform": PLATFORM,
                    "entry": "nodekeeper",
                }
            },
            "holds version 0.5.0, expected 0.4.0",
        ),
        ({"platform": "linux-arm64"}, "is built for linux-arm64, expected linux-amd64"),
        (
            {
                "manifest": {
                    "name": "storagenode",
                    "version": "0.4.0",
                    "platform": PLATFORM,
                    "entry": "nodekeeper",
                }
            },
            "is a bundle of 'storagenode'",
        ),
        (
            {
                "manifest": {
                    "name": "nodekeeper",
                    "version": "0.4.0",
                    "platform": PLATFORM,
                    "entry": "../../bin/sh",
                }
            },
            "'entry' must be a path inside the bundle",
        ),
        ({"manifest": {"version": "0.4.0"}}, "'name' must be a non-empty string"),
        ({"entry_mode": 0o644}, "is not an executable file"),
    ],
)
def test_a_bad_bundle_is_refused_and_nothing_is_installed(
    tmp_path: Path, kwargs: dict[str, object], problem: str
) -> None:
    cores = store(tmp_path)
    archive = core_bundle(tmp_path / "dist", "0.4.0", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ManifestError) as caught:
        cores.install_archive("0.4.0", archive)
    assert problem in str(caught.value) and "\n" not in str(caught.value)
    assert cores.installed() == () and list(cores.root.iterdir()) == []


def test_an_archive_without_manifest_or_one_top_folder_is_refused(tmp_path: Path) -> None:
    cores = store(tmp_path)
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive at all")
    with pytest.raises(UnpackError):
        cores.install_archive("0.4.0", bad)
    archive = core_bundle(tmp_path / "dist", "0.4.0", platform=PLATFORM, manifest={})
    with pytest.raises(NodekeeperError, match="'name' must be a non-empty string"):
        cores.install_archive("0.4.0", archive)
    assert list(cores.root.iterdir()) == []


def test_a_bundle_climbing_out_of_its_folder_is_refused(tmp_path: Path) -> None:
    cores = store(tmp_path)
    archive = core_bundle(
        tmp_path / "dist", "0.4.0", platform=PLATFORM, fmt="zip", extra={"../../evil": b"x"}
    )
    with pytest.raises(UnpackError, match="climbs out of its folder"):
        cores.install_archive("0.4.0", archive)
    assert not (tmp_path / "data" / "core" / "evil").exists()
    assert list(cores.root.iterdir()) == []


def test_prune_never_removes_current_previous_or_trying(tmp_path: Path) -> None:
    cores = store(tmp_path)
    for version in ("0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0"):
        cores.install_archive(version, core_bundle(tmp_path / "dist", version, platform=PLATFORM))
    StateStore(tmp_path / "data" / "state.json").update(
        self_update=SelfUpdateState(
            current="0.3.0",
            previous="0.2.0",
            trying=Trying("0.4.0", "0.3.0", "2026-12-01T20:00:00.000Z", "handing-over"),
        )
    )
    assert cores.prune(set()) == ["0.1.0", "0.5.0"]
    assert cores.installed() == ("0.2.0", "0.3.0", "0.4.0")
    assert cores.prune({"0.2.0"}) == []


@pytest.mark.parametrize("version", ["../0.4.0", "", "latest"])
def test_only_a_version_names_a_folder(tmp_path: Path, version: str) -> None:
    cores = store(tmp_path)
    archive = core_bundle(tmp_path / "dist", "0.4.0", platform=PLATFORM)
    with pytest.raises(ManifestError, match="is not a core version"):
        cores.install_archive(version, archive)
    assert not (tmp_path / "data" / "core").exists()


def test_a_link_leaving_the_bundle_is_refused(tmp_path: Path) -> None:
    import tarfile

    archive = core_bundle(tmp_path / "dist", "0.4.0", platform=PLATFORM)
    with tarfile.open(archive, "r:gz") as tar:
        members = [(m, tar.extractfile(m)) for m in tar.getmembers()]
        top = members[0][0].name
        evil = tmp_path / "evil.tar.gz"
        with tarfile.open(evil, "w:gz") as out:
            for member, content in members:
                out.addfile(member, content)
            link = tarfile.TarInfo(f"{top}/_internal/passwd")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            out.addfile(link)
    cores = store(tmp_path)
    with pytest.raises(UnpackError):
        cores.install_archive("0.4.0", evil)
    assert cores.installed() == () and list(cores.root.iterdir()) == []
