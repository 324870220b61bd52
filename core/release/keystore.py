"""Where publishers keep their private release keys.

Two stores with one interface: the OS keyring (service
``nodekeeper-release``, one entry per key id) for people at a desktop, and
a JSON file readable only by its owner (``--key-file``, mode 0600) for CI
and headless publishers. Keys are looked up by their TUF key id, so the
public half always comes from the repository's signed root, never from
here.

Every role has its own key. ``--key-file`` may be given more than once:
keys are looked up in each file in turn, and new keys are placed by role
(:meth:`KeyStores.place`), so the root (and targets) keys can live in a
file kept offline, given only when they are needed.

A key file is refused inside the repository folder (it would be
published), when it is a symbolic link, when it or its folder can be
changed by other users; it is written through an exclusive temporary file
with a random name, never through a symbolic link.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.keys import ReleaseKey

KEYRING_SERVICE = "nodekeeper-release"


class KeyStore(Protocol):
    def get(self, keyid: str) -> ReleaseKey | None:
        """The private key with this key id, or None when the store lacks it."""

    def put(self, key: ReleaseKey) -> None: ...

    def describe(self) -> str:
        """Where the keys are, in words for an error message."""


class FileKeyStore:
    """``{"keys": {keyid: seed_hex}}`` in a file of mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"key file {self.path}"

    def _check_folder(self) -> None:
        folder = self.path.parent
        try:
            mode = os.stat(folder).st_mode
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ReleaseError(f"cannot use key folder {folder}: {exc.strerror}") from None
        if os.name == "posix" and mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ReleaseError(
                f"key folder {folder} can be changed by other users; keep keys in a folder "
                f"only you can write to (chmod go-w {folder})"
            )

    def _read(self) -> dict[str, str]:
        self._check_folder()
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ReleaseError(f"cannot read key file {self.path}: {exc.strerror}") from None
        if stat.S_ISLNK(mode):
            raise ReleaseError(
                f"key file {self.path} is a symbolic link; give the path of the file itself"
            )
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ReleaseError(
                f"key file {self.path} can be read by other users; run: chmod 600 {self.path}"
            )
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, encoding="utf-8") as handle:
                data = json.loads(handle.read())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise ReleaseError(
                f"key file {self.path} is not a nodekeeper key file: {exc}"
            ) from None
        keys = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(keys, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in keys.items()
        ):
            raise ReleaseError(f'key file {self.path} has no "keys" table of key id → hex key')
        return dict(keys)

    def get(self, keyid: str) -> ReleaseKey | None:
        text = self._read().get(keyid)
        if text is None:
            return None
        key = ReleaseKey.from_hex(text, where=f"key file {self.path}")
        if key.keyid != keyid:
            raise ReleaseError(
                f"key file {self.path}: the key stored as {keyid[:12]} is another key"
            )
        return key

    def put(self, key: ReleaseKey) -> None:
        keys = self._read()
        keys[key.keyid] = key.to_hex()
        text = json.dumps({"keys": keys}, indent=2, sort_keys=True) + "\n"
        folder = self.path.parent
        tmp: str | None = None
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._check_folder()
            # mkstemp: a random name opened with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600,
            # so nobody can plant a link or a file to be written through.
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            # rename replaces a link at the destination; it never writes through it.
            os.replace(tmp, self.path)
            tmp = None
            _fsync_folder(folder)
        except OSError as exc:
            raise ReleaseError(f"cannot write key file {self.path}: {exc.strerror}") from None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class KeyStores:
    """Several stores read in turn (online keys, then a file kept offline); new keys go to the first."""

    def __init__(self, stores: Sequence[KeyStore]) -> None:
        self.stores = list(stores)

    def describe(self) -> str:
        return ", ".join(store.describe() for store in self.stores)

    def get(self, keyid: str) -> ReleaseKey | None:
        for store in self.stores:
            key = store.get(keyid)
            if key is not None:
                return key
        return None

    def put(self, key: ReleaseKey) -> None:
        self.stores[0].put(key)

    def place(self, role: str) -> KeyStore:
        """Where a new key of ``role`` is stored: the online keys first, root last.

        Two files: timestamp, snapshot and targets in the first, root in the
        second. Three: targets in the second, root in the third.
        """
        if role == "root":
            return self.stores[-1]
        if role == "targets" and len(self.stores) >= 3:
            return self.stores[1]
        return self.stores[0]


def store_for(keystore: KeyStore, role: str) -> KeyStore:
    """The store a new key of ``role`` goes to."""
    return keystore.place(role) if isinstance(keystore, KeyStores) else keystore


class KeyringStore:
    """The OS keyring: one secret per key id under service ``nodekeeper-release``."""

    def __init__(self, service: str = KEYRING_SERVICE) -> None:
        self.service = service

    def describe(self) -> str:
        return f"the OS keyring (service {self.service})"

    def get(self, keyid: str) -> ReleaseKey | None:
        _require_keyring()
        import keyring
        from keyring.errors import KeyringError

        try:
            text = keyring.get_password(self.service, keyid)
        except KeyringError as exc:
            raise _no_keyring(exc) from None
        if text is None:
            return None
        return ReleaseKey.from_hex(text, where=f"keyring entry {keyid[:12]}")

    def put(self, key: ReleaseKey) -> None:
        _require_keyring()
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(self.service, key.keyid, key.to_hex())
        except KeyringError as exc:
            raise _no_keyring(exc) from None


def _require_keyring() -> None:
    """Keyring is an extra, for publishers only: say how to get it, in one line."""
    if importlib.util.find_spec("keyring") is None:
        raise ReleaseError(
            "keeping release keys in the OS keyring needs the keyring package: "
            "install nodekeeper[release], or use --key-file FILE"
        )


def _no_keyring(exc: Exception) -> ReleaseError:
    reason = str(exc).split(".")[0] or type(exc).__name__
    return ReleaseError(f"the OS keyring cannot be used ({reason}); use --key-file FILE")


def open_keystore(
    key_files: Path | Sequence[Path] | None, repo_dir: Path | None = None
) -> KeyStore:
    """The key files given (in order), or the OS keyring when none is.

    A key file inside ``repo_dir`` is refused: everything there is published.
    """
    if key_files is None:
        return KeyringStore()
    paths = [Path(key_files)] if isinstance(key_files, str | os.PathLike) else list(key_files)
    if not paths:
        return KeyringStore()
    if repo_dir is not None:
        for path in paths:
            check_outside(path, repo_dir)
    stores: list[KeyStore] = [FileKeyStore(path) for path in paths]
    return stores[0] if len(stores) == 1 else KeyStores(stores)


def check_outside(key_file: Path, repo_dir: Path) -> None:
    """Refuse a key file that would be published with the repository."""
    key = Path(os.path.abspath(key_file)).resolve()
    repo = Path(os.path.abspath(repo_dir)).resolve()
    if key == repo or repo in key.parents:
        raise ReleaseError(
            f"key file {key_file} is inside the repository folder {repo_dir}, whose files "
            "are published; keep private keys outside it"
        )
