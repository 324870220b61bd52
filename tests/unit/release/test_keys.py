"""PyNaCl-backed signing as TUF sees it."""

from __future__ import annotations

import pytest
from securesystemslib.exceptions import UnverifiedSignatureError

from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.keys import NaclSigner, ReleaseKey


def test_signature_verifies_with_the_tuf_public_key() -> None:
    key = ReleaseKey.generate()
    signature = key.signer().sign(b"payload")
    key.public_key.verify_signature(signature, b"payload")
    with pytest.raises(UnverifiedSignatureError):
        key.public_key.verify_signature(signature, b"other payload")


def test_key_id_is_stable_and_repr_hides_the_secret() -> None:
    key = ReleaseKey.generate()
    again = ReleaseKey.from_hex(key.to_hex(), where="test")
    assert again.keyid == key.keyid and len(key.keyid) == 64
    assert key.to_hex() not in repr(key)


def test_signer_from_uri_requires_the_matching_public_key() -> None:
    key, other = ReleaseKey.generate(), ReleaseKey.generate()
    signer = NaclSigner.from_priv_key_uri(f"nacl:{key.to_hex()}", key.public_key)
    assert signer.public_key.keyid == key.keyid
    with pytest.raises(ValueError, match="does not match"):
        NaclSigner.from_priv_key_uri(f"nacl:{key.to_hex()}", other.public_key)


def test_malformed_private_key_is_one_line() -> None:
    with pytest.raises(ReleaseError, match="64 lowercase hex"):
        ReleaseKey.from_hex("zz", where="key file k.json")
