"""Where publishers keep their private release keys.

Two stores with one interface: the OS keyring (service
``nodekeeper-release``, one entry per key id) for people at a desktop, and
a JSON file readable only by its owner (``--key-file``, mode 0600) for CI
and headless publishers. Keys are looked up by their TUF key id, so the
public half always comes from the repository's signed root, never from
here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
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

    def _read(self) -> dict[str, str]:
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ReleaseError(f"cannot read key file {self.path}: {exc.strerror}") from None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ReleaseError(
                f"key file {self.path} can be read by other users; run: chmod 600 {self.path}"
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ReleaseError(f"cannot write key file {self.path}: {exc.strerror}") from None


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


def open_keystore(key_file: Path | None) -> KeyStore:
    return FileKeyStore(key_file) if key_file is not None else KeyringStore()
