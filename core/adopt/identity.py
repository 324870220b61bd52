"""Where a node's Storj identity is, in the order the node and Storj's tools look.

1. the node's ``--identity-dir``; 2. ``identity.cert-path`` in its
``config.yaml``; 3. ``/etc/storagenode/identity`` (Storj's Debian package);
4. the XDG default of the node's user; 5. ``%APPDATA%\\Storj\\Identity\\storagenode``
of the Windows service account. The first two are what the node itself
uses, so the first of them that exists wins; the others are guesses, and
two different identities among them are refused rather than picked.
Pure: the certificates are read by the caller.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from pathlib import PureWindowsPath

from nodekeeper.core.adopt.errors import AdoptUsageError
from nodekeeper.core.adopt.model import Identity, IdentityCandidate, NodeSetup
from nodekeeper.core.adopt.windows import identity_dir_of
from nodekeeper.core.update.nodeid import (
    NodeIdError,
    encode_node_id,
    node_id_from_certificate_chain,
)

CERT = "identity.cert"
KEY = "identity.key"
DEBIAN_IDENTITY = "/etc/storagenode/identity"
CONFIG_WHERE = "identity.cert-path in config.yaml"


def _join(directory: str, name: str, windows: bool) -> str:
    return str(PureWindowsPath(directory) / name) if windows else posixpath.join(directory, name)


def candidates(setup: NodeSetup, windows: bool) -> list[IdentityCandidate]:
    found: list[IdentityCandidate] = []
    if setup.identity_dir:
        found.append(
            IdentityCandidate(
                "the node's --identity-dir", _join(setup.identity_dir, CERT, windows), True
            )
        )
    cert_path = setup.node_config.get("identity.cert-path")
    if cert_path:
        base = setup.config_dir or ""
        if windows:
            cert = str(PureWindowsPath(base) / cert_path)
        else:
            cert = posixpath.join(base, cert_path)
        found.append(IdentityCandidate(CONFIG_WHERE, cert, True))
    if windows:
        account = setup.service_account or "LocalSystem"
        found.append(
            IdentityCandidate(
                f"%APPDATA% of {account}", _join(identity_dir_of(account), CERT, True), False
            )
        )
        return found
    found.append(IdentityCandidate(DEBIAN_IDENTITY, posixpath.join(DEBIAN_IDENTITY, CERT), False))
    if setup.home:
        xdg = posixpath.join(setup.home, ".local/share/storj/identity/storagenode")
        who = setup.user or "the node's user"
        found.append(IdentityCandidate(f"the default of {who}", posixpath.join(xdg, CERT), False))
    return found


# The reader gives a certificate file's bytes, or None when it is not there.
CertReader = Callable[[str], bytes | None]


def key_path(identity: Identity, setup: NodeSetup, windows: bool) -> str:
    """Where the node will look for the identity's private key."""
    configured = setup.node_config.get("identity.key-path")
    if identity.where == CONFIG_WHERE and configured:
        if windows:
            return str(PureWindowsPath(setup.config_dir or "") / configured)
        return posixpath.join(setup.config_dir or "", configured)
    return _join(identity.directory, KEY, windows)


def check_key(identity: Identity, setup: NodeSetup, windows: bool, exists: CertReader) -> None:
    """Refuse an identity without its key: the node could not start with it."""
    key = key_path(identity, setup, windows)
    if exists(key) is None:
        raise AdoptUsageError(
            f"{identity.cert} has no private key at {key}; "
            "restore identity.key there or pass --identity-dir DIR"
        )


def choose_identity(found: Sequence[IdentityCandidate], read: CertReader) -> Identity:
    """The identity the node uses; AdoptUsageError (one line) when none or several."""
    guesses: list[Identity] = []
    for candidate in found:
        pem = read(candidate.cert)
        if pem is None:
            if candidate.authoritative:
                raise AdoptUsageError(
                    f"{candidate.where} points at {candidate.cert}, which cannot be read; "
                    "fix the path or pass --identity-dir DIR"
                )
            continue
        try:
            node_id = node_id_from_certificate_chain(pem)
        except NodeIdError as exc:
            raise AdoptUsageError(f"{candidate.cert}: not a Storj identity ({exc})") from None
        identity = Identity(candidate.cert, candidate.where, node_id)
        if candidate.authoritative:
            return identity
        guesses.append(identity)
    distinct = {i.node_id for i in guesses}
    if len(distinct) > 1:
        listed = ", ".join(f"{i.cert} (node {encode_node_id(i.node_id)})" for i in guesses)
        raise AdoptUsageError(
            f"found {len(distinct)} different identities: {listed}; "
            "pass --identity-dir DIR to say which one this node uses"
        )
    if not guesses:
        looked = ", ".join(c.cert for c in found) or "nowhere"
        raise AdoptUsageError(
            f"no Storj identity found (looked at {looked}); pass --identity-dir DIR"
        )
    return guesses[0]
