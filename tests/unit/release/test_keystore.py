"""Key storage: 0600 key files and the OS keyring."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.keys import ReleaseKey
from nodekeeper.core.release.keystore import FileKeyStore, KeyringStore


def test_key_file_is_created_owner_only_and_round_trips(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys.json")
    key = ReleaseKey.generate()
    store.put(key)
    assert (os.stat(store.path).st_mode & 0o777) == 0o600
    assert store.get(key.keyid) == key
    assert store.get("0" * 64) is None


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys.json")
    store.put(ReleaseKey.generate())
    os.chmod(store.path, 0o644)
    with pytest.raises(ReleaseError, match="chmod 600"):
        store.get("0" * 64)


@pytest.mark.parametrize("content", ["not json", "[]", '{"keys": {"a": 5}}'])
def test_malformed_key_file_is_one_line(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(ReleaseError) as info:
        FileKeyStore(path).get("a")
    assert "\n" not in str(info.value)


def test_key_stored_under_wrong_id_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key = ReleaseKey.generate()
    path.write_text(json.dumps({"keys": {"f" * 64: key.to_hex()}}))
    os.chmod(path, 0o600)
    with pytest.raises(ReleaseError, match="another key"):
        FileKeyStore(path).get("f" * 64)


class _MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[_MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = _MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_keyring_store_uses_service_nodekeeper_release(memory_keyring: _MemoryKeyring) -> None:
    key = ReleaseKey.generate()
    KeyringStore().put(key)
    assert ("nodekeeper-release", key.keyid) in memory_keyring.entries
    assert KeyringStore().get(key.keyid) == key


def test_missing_keyring_backend_says_use_key_file() -> None:
    from keyring.backends.fail import Keyring as FailKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())  # type: ignore[no-untyped-call]
    try:
        with pytest.raises(ReleaseError, match="--key-file"):
            KeyringStore().get("a" * 64)
    finally:
        keyring.set_keyring(previous)
