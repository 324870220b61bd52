"""The streaming verifier: length, SHA-256 and ed25519 signature over chunks.

The Ed25519 check is compared with libsodium's own ``crypto_sign_verify``
(PyNaCl's ``VerifyKey.verify``) on random keys, messages, chunkings and
tamperings: both must always agree.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from nodekeeper.core.update.verify import GROUP_ORDER, Ed25519Stream, StreamVerifier

KEY = SigningKey(b"\x07" * 32)
PUBLIC = bytes(KEY.verify_key)


def libsodium_says(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def streamed(public_key: bytes, signature: bytes, chunks: list[bytes]) -> bool:
    stream = Ed25519Stream(public_key, signature)
    for chunk in chunks:
        stream.update(chunk)
    return stream.valid()


def split(message: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(message)) for c in cuts})
    edges = [0, *points, len(message)]
    return [message[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=200)
@given(
    st.binary(min_size=32, max_size=32), st.binary(max_size=3000), st.lists(st.integers(0, 3000))
)
def test_genuine_signatures_verify_however_the_file_is_chunked(
    seed: bytes, message: bytes, cuts: list[int]
) -> None:
    key = SigningKey(seed)
    signature = key.sign(message).signature
    assert streamed(bytes(key.verify_key), signature, split(message, cuts))


@settings(max_examples=300)
@given(
    st.binary(max_size=500),
    st.integers(0, 95),
    st.integers(1, 255),
    st.lists(st.integers(0, 500)),
)
def test_agrees_with_libsodium_on_tampered_signatures_keys_and_files(
    message: bytes, position: int, flip: int, cuts: list[int]
) -> None:
    signature = KEY.sign(message).signature
    blob = bytearray(PUBLIC + signature)
    blob[position] ^= flip
    public_key, bad_signature = bytes(blob[:32]), bytes(blob[32:])
    expected = libsodium_says(public_key, message, bad_signature)
    assert streamed(public_key, bad_signature, split(message, cuts)) is expected
    if message:
        changed = bytes([message[0] ^ flip]) + message[1:]
        assert streamed(PUBLIC, signature, [changed]) is libsodium_says(PUBLIC, changed, signature)


def test_non_canonical_s_is_refused_like_libsodium() -> None:
    message = b"release"
    signature = KEY.sign(message).signature
    s = int.from_bytes(signature[32:], "little") + GROUP_ORDER
    malleated = signature[:32] + s.to_bytes(32, "little")
    assert not libsodium_says(PUBLIC, message, malleated)
    assert not streamed(PUBLIC, malleated, [message])


@pytest.mark.parametrize(
    "public_key",
    [bytes(32), b"\x01" + bytes(31), b"\xff" * 32],  # small order / identity / non-canonical
)
def test_degenerate_public_keys_are_refused(public_key: bytes) -> None:
    assert not streamed(public_key, KEY.sign(b"x").signature, [b"x"])


def test_missing_or_short_signature_is_refused() -> None:
    assert not streamed(PUBLIC, b"", [b"x"])
    assert not streamed(PUBLIC, b"\x00" * 63, [b"x"])


def test_verifier_reports_length_then_hash_then_signature() -> None:
    data = b"artifact" * 1000
    sha = hashlib.sha256(data).hexdigest()
    signature = KEY.sign(data).signature

    def check(fed: bytes, **promised: object) -> str | None:
        verifier = StreamVerifier(**promised)  # type: ignore[arg-type]
        verifier.update(fed)
        return verifier.mismatch()

    full = {"length": len(data), "sha256": sha, "signature": signature, "public_key": PUBLIC}
    assert check(data, **full) is None
    assert check(data[:-1], **full) == "length"
    assert check(data[:-1] + b"!", **full) == "sha256"
    assert check(data, **{**full, "signature": KEY.sign(b"other").signature}) == "signature"
    assert check(data, **{**full, "signature": None}) == "signature"
    assert check(b"anything") is None  # nothing promised (Storj's version server)
    assert check(data, sha256=sha.upper()) is None


def test_resumed_file_is_verified_whole(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    part = tmp_path / "art.zip.part"
    part.write_bytes(data[:300_000])
    verifier = StreamVerifier(
        length=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        signature=KEY.sign(data).signature,
        public_key=PUBLIC,
    )
    verifier.update_from_file(part)
    verifier.update(data[300_000:])
    assert verifier.mismatch() is None
    assert verifier.size == len(data)
