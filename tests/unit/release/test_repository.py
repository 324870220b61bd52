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


def _without_root_key(publisher: Publisher) -> None:
    keys = json.loads(publisher.key_file.read_text())
    root_keys = set(publisher.open().root.signed.roles["root"].keyids)
    keys["keys"] = {k: v for k, v in keys["keys"].items() if k not in root_keys}
    publisher.key_file.write_text(json.dumps(keys))


def test_renew_online_waits_for_half_the_timestamp_validity(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    start = now()
    repo = publisher.open()
    assert repo.renew_online(start + timedelta(hours=11)) is None
    before = _names(publisher.repo_dir)
    written = repo.renew_online(start + timedelta(hours=13))
    assert written is not None and "metadata/timestamp.json" in written
    assert _names(publisher.repo_dir) - before == {"metadata/2.snapshot.json"}
    assert repo.renew_online(start + timedelta(hours=14)) is None


def test_renew_online_never_needs_the_root_key(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    _without_root_key(publisher)
    repo = publisher.open()
    # Even with root close to expiry and targets due: root is left to the offline key.
    later = now() + timedelta(days=340)
    assert repo.root_expires_soon(later)
    written = repo.renew_online(later)
    assert written is not None
    assert not any(name.endswith("root.json") for name in written)
    assert "metadata/2.targets.json" in written


def test_a_change_published_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    stale = publisher.open()
    publisher.add("1.2.0")
    before = {p: (publisher.repo_dir / p).read_bytes() for p in _names(publisher.repo_dir)}
    with pytest.raises(ReleaseError, match="changed by another command"):
        stale.add_targets({"channels/storagenode.json": b"{}"}, now())
    assert {p: (publisher.repo_dir / p).read_bytes() for p in _names(publisher.repo_dir)} == before
