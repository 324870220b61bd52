"""One verifier for a release file: length, SHA-256 and ed25519 signature, fed as it streams.

The downloader feeds every chunk once, as it arrives (after feeding what a
resumed download already has on disk), and asks at the end what, if
anything, does not match. Nothing is read twice and the file is never held
in memory, whatever its size.

The signature is pure Ed25519 (RFC 8032) over the whole file, as GitHub
release ``.sig`` assets carry it. libsodium's ``crypto_sign_verify`` needs
the whole message at once, but the only pass Ed25519 makes over the message
is ``SHA-512(R || A || M)``: that hash is computed while streaming and the
group equation ``[S]B = R + [k]A`` is then checked with libsodium's
primitives (through PyNaCl), with the same rejections libsodium applies
(non-canonical ``S``, small-order or non-canonical ``R`` and ``A``).
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Literal

Mismatch = Literal["length", "sha256", "signature"]
CHUNK = 1 << 20
# The order of Ed25519's prime-order subgroup.
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493


class Ed25519Stream:
    """Checks a detached Ed25519 signature over data given in pieces."""

    def __init__(self, public_key: bytes, signature: bytes) -> None:
        self._public_key = bytes(public_key)
        self._signature = bytes(signature)
        well_formed = len(self._public_key) == 32 and len(self._signature) == 64
        self._hash = hashlib.sha512(self._signature[:32] + self._public_key)
        self._well_formed = well_formed

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)

    def valid(self) -> bool:
        """True when the signature verifies for everything given to :meth:`update`."""
        from nacl import bindings
        from nacl.exceptions import CryptoError

        if not self._well_formed:
            return False
        r, s = self._signature[:32], self._signature[32:]
        if int.from_bytes(s, "little") >= GROUP_ORDER:
            return False  # malleable (non-canonical) S
        if not (
            bindings.crypto_core_ed25519_is_valid_point(r)
            and bindings.crypto_core_ed25519_is_valid_point(self._public_key)
        ):
            return False
        k = bindings.crypto_core_ed25519_scalar_reduce(self._hash.digest())
        try:
            s_b = bindings.crypto_scalarmult_ed25519_base_noclamp(s)
            k_a = bindings.crypto_scalarmult_ed25519_noclamp(k, self._public_key)
            expected_r = bindings.crypto_core_ed25519_sub(s_b, k_a)
        except CryptoError:  # a zero scalar or a product at the identity
            return False
        return hmac.compare_digest(expected_r, r)


class StreamVerifier:
    """What a release file must match, checked over the bytes fed to it.

    ``length`` and ``sha256`` (lowercase hex) are checked when given; the
    signature when ``public_key`` is given (a missing signature then fails).
    """

    def __init__(
        self,
        *,
        length: int | None = None,
        sha256: str | None = None,
        signature: bytes | None = None,
        public_key: bytes | None = None,
    ) -> None:
        self.length = length
        self.sha256 = sha256.lower() if sha256 else None
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._signed = (
            Ed25519Stream(public_key, signature or b"") if public_key is not None else None
        )

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._sha256.update(chunk)
        if self._signed is not None:
            self._signed.update(chunk)

    def update_from_file(self, path: Path) -> None:
        """Feed the contents of ``path`` (the part of a download already on disk)."""
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                self.update(chunk)

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()

    def mismatch(self) -> Mismatch | None:
        """The first thing the bytes fed so far fail, None when they are the promised file."""
        if self.length is not None and self.size != self.length:
            return "length"
        if self.sha256 is not None and self._sha256.hexdigest() != self.sha256:
            return "sha256"
        if self._signed is not None and not self._signed.valid():
            return "signature"
        return None
