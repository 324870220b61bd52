"""Storage node ids, in Storj's encodings, for rollout bucketing.

A Storj node id is 32 bytes: the double SHA-256 of the identity CA
certificate's public key (PKIX DER), with the last byte replaced by the
identity version (0 today). As text it is base58check (bitcoin alphabet):
``version byte || id with last byte zeroed || first 4 bytes of
sha256(sha256(those bytes))``. This is how storj.io/common/storj
``NodeID.String`` / ``NodeIDFromString`` and identity ``NodeIDFromCert``
work; the rollout hash (``nodekeeper.core.update.rollout``) uses the 32 raw bytes.

The only I/O here is reading an identity certificate from disk.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

NODE_ID_SIZE = 32
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
# Identity versions Storj defines; an id claiming another is not a Storj id.
_KNOWN_ID_VERSIONS = frozenset({0})
# X.509 extension Storj stores the identity version in (value: one byte).
_ID_VERSION_OID = "2.999.2.1"


class NodeIdError(ValueError):
    """Text or a certificate that does not hold a usable node id."""


def _double_sha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        digit = _INDEX.get(char)
        if digit is None:
            raise NodeIdError(f"not a node id: {text!r} (character {char!r} is not base58)")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def encode_node_id(node_id: bytes) -> str:
    """Storj's base58check text of a 32-byte node id."""
    if len(node_id) != NODE_ID_SIZE:
        raise NodeIdError(f"a node id has {NODE_ID_SIZE} bytes, got {len(node_id)}")
    version = node_id[-1]
    payload = bytes([version]) + node_id[:-1] + b"\0"
    return b58encode(payload + _double_sha256(payload)[:4])


def decode_node_id(text: str) -> bytes:
    """The 32 raw bytes of a base58check node id; NodeIdError if it is not one."""
    raw = b58decode(text)
    if len(raw) != 1 + NODE_ID_SIZE + 4:
        raise NodeIdError(f"not a node id: {text!r} (wrong length)")
    payload, checksum = raw[:-4], raw[-4:]
    if _double_sha256(payload)[:4] != checksum:
        raise NodeIdError(f"not a node id: {text!r} (checksum mismatch, probably a typo)")
    version = payload[0]
    if version not in _KNOWN_ID_VERSIONS:
        raise NodeIdError(f"not a node id: {text!r} (unknown identity version {version})")
    return payload[1:-1] + bytes([version])


def node_id_bytes(text: str) -> bytes:
    """Parse a node id given as Storj base58check or as 64 hex digits."""
    text = text.strip()
    if len(text) == 2 * NODE_ID_SIZE and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    return decode_node_id(text)


def random_node_id() -> bytes:
    """A fresh random id, for nodes without a Storj identity (persist it)."""
    return secrets.token_bytes(NODE_ID_SIZE)


def node_id_from_certificate_chain(pem: bytes) -> bytes:
    """The node id of a Storj ``identity.cert`` (PEM chain: leaf, then CA, ...)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise NodeIdError(f"not a certificate chain ({exc})") from None
    if len(chain) < 2:
        raise NodeIdError("the identity certificate holds no CA certificate")
    ca = chain[1]
    version = 0
    for ext in ca.extensions:
        if ext.oid.dotted_string == _ID_VERSION_OID:
            value = ext.value
            raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
            if not raw:
                raise NodeIdError("the identity version extension is empty")
            version = raw[0]
    if version not in _KNOWN_ID_VERSIONS:
        raise NodeIdError(f"unknown identity version {version}")
    public_der = ca.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = _double_sha256(public_der)
    return digest[:-1] + bytes([version])


def identity_dirs(
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> list[Path]:
    """Where Storj's tools put a storage node identity, most likely first."""
    platform = platform or sys.platform
    env = os.environ if env is None else env
    home = home if home is not None else Path.home()
    if platform.startswith("win"):
        appdata = env.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return [base / "Storj" / "Identity" / "storagenode"]
    if platform == "darwin":
        return [home / "Library" / "Application Support" / "Storj" / "Identity" / "storagenode"]
    dirs = [
        home / ".local" / "share" / "storj" / "identity" / "storagenode",
        Path("/app/identity"),
        Path("/root/.local/share/storj/identity/storagenode"),
    ]
    return list(dict.fromkeys(dirs))


def find_storj_identity(dirs: Sequence[Path] | None = None) -> bytes | None:
    """The node id of the first readable Storj identity found, else None.

    An unreadable or malformed certificate is skipped: the caller falls
    back to a random id, and the operator can set ``updates.node_id``.
    """
    for directory in identity_dirs() if dirs is None else dirs:
        cert = directory / "identity.cert"
        try:
            pem = cert.read_bytes()
        except OSError:
            continue
        try:
            return node_id_from_certificate_chain(pem)
        except NodeIdError:
            continue
    return None
