"""Keys per role kept apart: root (and targets) offline, online hosts sign only what they must."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.keys import ReleaseKey
from nodekeeper.core.release.keystore import (
    FileKeyStore,
    KeyStores,
    check_outside,
    open_keystore,
)
from nodekeeper.core.release.repository import Repository
from tests.fixtures.releases import now


def split_repository(tmp_path: Path, files: int) -> tuple[Path, list[Path]]:
    key_files = [tmp_path / f"keys{n}.json" for n in range(files)]
    repo_dir = tmp_path / "repo"
    Repository.create(repo_dir, open_keystore(key_files), now())
    return repo_dir, key_files


def roles_in(repo_dir: Path, key_file: Path) -> set[str]:
    root = json.loads((repo_dir / "metadata" / "1.root.json").read_text())["signed"]["roles"]
    stored = set(json.loads(key_file.read_text())["keys"])
    return {role for role, entry in root.items() if set(entry["keyids"]) & stored}


def test_two_key_files_put_root_in_the_second(tmp_path: Path) -> None:
    repo_dir, (online, offline) = split_repository(tmp_path, 2)
    assert roles_in(repo_dir, online) == {"targets", "snapshot", "timestamp"}
    assert roles_in(repo_dir, offline) == {"root"}


def test_three_key_files_keep_targets_apart_too(tmp_path: Path) -> None:
    repo_dir, (online, targets, root) = split_repository(tmp_path, 3)
    assert roles_in(repo_dir, online) == {"snapshot", "timestamp"}
    assert roles_in(repo_dir, targets) == {"targets"}
    assert roles_in(repo_dir, root) == {"root"}


def test_refresh_without_offline_keys_signs_timestamp_and_snapshot_and_warns(
    tmp_path: Path,
) -> None:
    repo_dir, (online, _targets, _root) = split_repository(tmp_path, 3)
    late = now() + timedelta(days=340)  # root and targets both close to expiring
    repo = Repository.load(repo_dir, FileKeyStore(online))
    repo.refresh(late)
    after = Repository.load(repo_dir, FileKeyStore(online))
    assert (after.root.signed.version, after.targets.signed.version) == (1, 1)
    assert after.timestamp.signed.version == 2 and after.snapshot.signed.version == 2
    warnings = after.expiry_warnings(late)
    assert [w.split(" metadata")[0] for w in warnings] == ["the root", "the targets"]
    assert not after.expiry_warnings(now())


def test_refresh_with_all_key_files_renews_root_and_targets(tmp_path: Path) -> None:
    repo_dir, key_files = split_repository(tmp_path, 3)
    late = now() + timedelta(days=340)
    Repository.load(repo_dir, open_keystore(key_files)).refresh(late)
    after = Repository.load(repo_dir, open_keystore(key_files))
    assert (after.root.signed.version, after.targets.signed.version) == (2, 2)
    assert after.expiry_warnings(late) == []


def test_rotating_root_stores_the_new_key_with_the_offline_keys(tmp_path: Path) -> None:
    repo_dir, (online, offline) = split_repository(tmp_path, 2)
    stores = open_keystore([online, offline])
    assert isinstance(stores, KeyStores)
    key = Repository.load(repo_dir, stores).rotate_key("root", now())
    assert key.keyid in json.loads(offline.read_text())["keys"]
    assert key.keyid not in json.loads(online.read_text())["keys"]


def test_key_file_inside_the_repository_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for inside in (repo / "keys.json", repo / "metadata" / "k.json", repo / "x" / ".." / "k"):
        with pytest.raises(ReleaseError, match="inside the repository folder"):
            check_outside(inside, repo)
    check_outside(tmp_path / "keys.json", repo)
    check_outside(tmp_path / "repo-keys.json", repo)
    with pytest.raises(ReleaseError, match="inside the repository folder"):
        open_keystore([tmp_path / "keys.json", repo / "keys.json"], repo)


def test_key_folder_writable_by_others_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    store = FileKeyStore(folder / "keys.json")
    key = ReleaseKey.generate()
    for mode in (0o777, 0o1777, 0o775):
        os.chmod(folder, mode)
        with pytest.raises(ReleaseError, match="can be changed by other users"):
            store.put(key)
    os.chmod(folder, 0o700)
    store.put(key)
    assert store.get(key.keyid) == key


def test_key_writes_never_follow_a_planted_link(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    # The old predictable temporary name, and the key file itself, as links.
    (folder / "keys.json.tmp").symlink_to(victim)
    key = ReleaseKey.generate()
    FileKeyStore(folder / "keys.json").put(key)
    assert victim.read_text() == "untouched\n"
    assert not (folder / "keys.json").is_symlink()
    assert (os.stat(folder / "keys.json").st_mode & 0o777) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["keys.json", "keys.json.tmp"]

    linked = tmp_path / "linked.json"
    linked.symlink_to(folder / "keys.json")
    with pytest.raises(ReleaseError, match="symbolic link"):
        FileKeyStore(linked).get(key.keyid)


def test_a_timer_run_without_the_targets_key_renews_only_timestamp_and_snapshot(
    tmp_path: Path,
) -> None:
    repo_dir, (online, _targets, _root) = split_repository(tmp_path, 3)
    late = now() + timedelta(days=70)  # targets within 30 days of expiry, root not
    renewed = Repository.load(repo_dir, FileKeyStore(online)).renew_online(late)
    assert renewed
    after = Repository.load(repo_dir, FileKeyStore(online))
    assert after.targets.signed.version == 1 and after.timestamp.signed.version == 2
    [warning] = after.expiry_warnings(late)
    assert warning.startswith("the targets metadata expires on")
    with pytest.raises(ReleaseError, match="not enough private keys for the targets role"):
        after.add_targets({"storagenode/x.zip": b"new"}, late)
