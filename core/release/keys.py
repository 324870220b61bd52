"""ed25519 release keys, generated and used through PyNaCl.

``ReleaseKey`` is a private key (a 32-byte seed); ``NaclSigner`` adapts it
to securesystemslib's ``Signer`` so python-tuf's Metadata API can sign with
it. Public keys are ``SSlibKey`` objects with the standard TUF key id, so
any TUF client verifies the signatures. This module never stores keys;
``keystore`` does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from nacl.signing import SigningKey
from securesystemslib.formats import encode_canonical

# The public names are re-exported without __all__, which mypy --strict rejects.
from securesystemslib.signer._key import Key, SSlibKey
from securesystemslib.signer._signature import Signature
from securesystemslib.signer._signer import SecretsHandler, Signer

from nodekeeper.core.release.errors import ReleaseError

KEYTYPE = "ed25519"
SCHEME = "ed25519"
URI_SCHEME = "nacl"
_HEX_SEED = re.compile(r"[0-9a-f]{64}")


def public_key_for(public_hex: str) -> SSlibKey:
    """The TUF public key object for a hex ed25519 public key."""
    keyval = {"public": public_hex}
    canonical = encode_canonical({"keytype": KEYTYPE, "scheme": SCHEME, "keyval": keyval})
    assert isinstance(canonical, str)
    keyid = hashlib.sha256(canonical.encode()).hexdigest()
    return SSlibKey(keyid, KEYTYPE, SCHEME, keyval)


@dataclass(frozen=True, repr=False)
class ReleaseKey:
    """An ed25519 private key; ``repr`` never shows the secret."""

    seed: bytes

    @classmethod
    def generate(cls) -> ReleaseKey:
        return cls(bytes(SigningKey.generate()))

    @classmethod
    def from_hex(cls, text: str, *, where: str) -> ReleaseKey:
        if not isinstance(text, str) or not _HEX_SEED.fullmatch(text):
            raise ReleaseError(f"{where}: a private key must be 64 lowercase hex digits")
        return cls(bytes.fromhex(text))

    def to_hex(self) -> str:
        return self.seed.hex()

    @property
    def public_hex(self) -> str:
        return bytes(SigningKey(self.seed).verify_key).hex()

    @property
    def public_key(self) -> SSlibKey:
        return public_key_for(self.public_hex)

    @property
    def keyid(self) -> str:
        return str(self.public_key.keyid)

    def signer(self) -> NaclSigner:
        return NaclSigner(self)

    def __repr__(self) -> str:
        return f"ReleaseKey(keyid={self.keyid[:12]}…)"


class NaclSigner(Signer):
    """A securesystemslib ``Signer`` that signs with PyNaCl."""

    def __init__(self, key: ReleaseKey) -> None:
        self._signing_key = SigningKey(key.seed)
        self._public_key = key.public_key

    @property
    def public_key(self) -> SSlibKey:
        return self._public_key

    def sign(self, payload: bytes) -> Signature:
        signed = self._signing_key.sign(payload)
        return Signature(self._public_key.keyid, signed.signature.hex())

    @classmethod
    def from_priv_key_uri(
        cls,
        priv_key_uri: str,
        public_key: Key,
        secrets_handler: SecretsHandler | None = None,
    ) -> NaclSigner:
        """``nacl:<64 hex>``; the key must match ``public_key``."""
        scheme, _, secret = priv_key_uri.partition(":")
        if scheme != URI_SCHEME:
            raise ValueError(f"not a {URI_SCHEME}: key URI")
        key = ReleaseKey.from_hex(secret, where="key URI")
        if key.keyid != public_key.keyid:
            raise ValueError("private key does not match the public key")
        return cls(key)
