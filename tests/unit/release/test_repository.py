"""Repository metadata: layout, versions, expiry, rotation."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.keystore import FileKeyStore
from nodekeeper.core.release.repository import Repository
from tests.fixtures.releases import Publisher, now


def _names(repo_dir: Path) -> set[str]:
    return {str(p.relative_to(repo_dir)) for p in repo_dir.rglob("*") if p.is_file()}


def test_init_writes_consistent_snapshot_layout(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    assert _names(publisher.repo_dir) == {
        "metadata/1.root.json",
        "metadata/1.targets.json",
        "metadata/1.snapshot.json",
        "metadata/timestamp.json",
    }
    root = Metadata.from_file(str(publisher.trusted_root))
    assert root.signed.consistent_snapshot is True


def test_default_expiry_per_role(tmp_path: Path) -> None:
    start = now()
    publisher = Publisher(tmp_path)
    repo = publisher.open()
    expiries = [
        (repo.root.signed.expires, 365),
        (repo.targets.signed.expires, 90),
        (repo.snapshot.signed.expires, 7),
        (repo.timestamp.signed.expires, 1),
    ]
    for expires, days in expiries:
        assert abs(expires - (start + timedelta(days=days))) < timedelta(minutes=1)


def test_add_writes_content_addressed_target_and_new_versions(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    archive = publisher.add("1.2.0")
    repo = publisher.open()
    info = repo.target_info("storagenode/1.2.0/linux-amd64.zip")
    assert info is not None and info.length == archive.stat().st_size
    stored = (
        publisher.repo_dir
        / "targets/storagenode/1.2.0"
        / f"{info.hashes['sha256']}.linux-amd64.zip"
    )
    assert stored.read_bytes() == archive.read_bytes()
    assert (
        repo.targets.signed.version,
        repo.snapshot.signed.version,
        repo.timestamp.signed.version,
    ) == (2, 2, 2)
    # Older consistent-snapshot files stay for clients that are mid-update.
    assert (publisher.repo_dir / "metadata/1.targets.json").exists()


def test_refresh_extends_timestamp_and_snapshot_only(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    before = publisher.open()
    later = now() + timedelta(days=3)
    publisher.open().refresh(later)
    after = publisher.open()
    assert after.timestamp.signed.expires > before.timestamp.signed.expires + timedelta(days=2)
    assert after.snapshot.signed.version == before.snapshot.signed.version + 1
    assert after.targets.signed.version == before.targets.signed.version
    assert after.root.signed.version == 1


def test_refresh_renews_targets_and_root_close_to_expiry(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    publisher.open().refresh(now() + timedelta(days=340))
    repo = publisher.open()
    assert repo.targets.signed.version == 2
    assert repo.root.signed.version == 2
    assert (publisher.repo_dir / "metadata/2.root.json").exists()


def test_rotated_root_is_signed_by_old_and_new_keys(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    old_root = Metadata.from_file(str(publisher.trusted_root))
    publisher.open().rotate_key("root", now())
    new_root = Metadata.from_file(str(publisher.repo_dir / "metadata/2.root.json"))
    old_root.signed.verify_delegate("root", new_root.signed_bytes, new_root.signatures)
    new_root.signed.verify_delegate("root", new_root.signed_bytes, new_root.signatures)
    assert old_root.signed.roles["root"].keyids != new_root.signed.roles["root"].keyids


def test_missing_private_key_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    other = FileKeyStore(tmp_path / "empty.json")
    repo = Repository.load(publisher.repo_dir, other)
    before = {p: p.read_bytes() for p in publisher.repo_dir.rglob("*") if p.is_file()}
    with pytest.raises(ReleaseError, match="not enough private keys for the targets role"):
        repo.add_targets({"channels/storagenode.json": json.dumps({}).encode()}, now())
    assert {p: p.read_bytes() for p in publisher.repo_dir.rglob("*") if p.is_file()} == before


def test_non_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="release init"):
        Repository.load(tmp_path, FileKeyStore(tmp_path / "k.json"))


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "something").write_text("x")
    with pytest.raises(ReleaseError, match="not empty"):
        Repository.create(tmp_path / "repo", FileKeyStore(tmp_path / "k.json"), now())


def test_threshold_above_key_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="--threshold 3"):
        Repository.create(
            tmp_path / "repo", FileKeyStore(tmp_path / "k.json"), now(), root_keys=2, threshold=3
        )
    assert not (tmp_path / "repo").exists()
