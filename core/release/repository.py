"""A TUF release repository: building and signing its metadata.

Layout (docs/contract.md, Release repository): ``metadata/N.root.json`` (the whole root chain),
``metadata/N.targets.json``, ``metadata/N.snapshot.json`` (consistent
snapshots: never rewritten) and ``metadata/timestamp.json`` (the only file
that changes in place); ``targets/<folder>/<sha256>.<name>``.

``Repository`` loads the current state, and each change (add a target,
refresh expiry, rotate a key) produces new versions of the affected roles
and hands them to a :class:`~nodekeeper.core.release.publish.Publication`, which
writes them all or nothing. Time is an argument: nothing here reads the
clock. Only the roles root, targets, snapshot and timestamp exist; no
delegations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from tuf.api._payload import MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata
from tuf.api.serialization import DeserializationError
from tuf.api.serialization.json import JSONSerializer

from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.keys import ReleaseKey
from nodekeeper.core.release.keystore import KeyStore, store_for
from nodekeeper.core.release.publish import TIMESTAMP, Publication, Writer, locked, write_durably

ROLES = ("root", "targets", "snapshot", "timestamp")
# How long each role's signature stays valid (docs/releases.md).
DEFAULT_EXPIRY = {
    "root": timedelta(days=365),
    "targets": timedelta(days=90),
    "snapshot": timedelta(days=7),
    "timestamp": timedelta(days=1),
}
# ``refresh`` re-signs targets and root too once they are this close to expiring.
RENEW_WITHIN = {"root": timedelta(days=60), "targets": timedelta(days=30)}
_ROOT_FILE = re.compile(r"([1-9][0-9]*)\.root\.json")
_SERIALIZER = JSONSerializer(compact=False)


def _expires(now: datetime, role: str, expiry: dict[str, timedelta]) -> datetime:
    return (now + expiry[role]).replace(microsecond=0)


@dataclass
class Repository:
    repo_dir: Path
    keystore: KeyStore
    root: Metadata[Root]
    targets: Metadata[Targets]
    snapshot: Metadata[Snapshot]
    timestamp: Metadata[Timestamp]
    expiry: dict[str, timedelta] = field(default_factory=lambda: dict(DEFAULT_EXPIRY))
    writer: Writer = write_durably
    # timestamp.json as loaded: a change published by another command in the
    # meantime must not be overwritten by one computed from the older state.
    loaded_timestamp: bytes | None = None

    # ---- creating and loading -------------------------------------------------

    @classmethod
    def create(
        cls,
        repo_dir: Path,
        keystore: KeyStore,
        now: datetime,
        *,
        root_keys: int = 1,
        threshold: int = 1,
        expiry: dict[str, timedelta] | None = None,
        writer: Writer = write_durably,
    ) -> Repository:
        """Generate keys and publish version 1 of every role into an empty ``repo_dir``."""
        if not 1 <= threshold <= root_keys:
            raise ReleaseError(
                f"--threshold {threshold} needs between 1 and --root-keys ({root_keys}) root keys"
            )
        repo_dir = Path(repo_dir)
        if repo_dir.exists() and any(repo_dir.iterdir()):
            raise ReleaseError(f"{repo_dir} is not empty; release init needs a new or empty folder")
        expiry = dict(expiry or DEFAULT_EXPIRY)
        roles = {"root": [ReleaseKey.generate() for _ in range(root_keys)]}
        for role in ROLES[1:]:
            roles[role] = [ReleaseKey.generate()]
        root = Root(expires=_expires(now, "root", expiry), consistent_snapshot=True)
        for role, keys in roles.items():
            for key in keys:
                root.add_key(key.public_key, role)
        root.roles["root"].threshold = threshold
        # Keys are stored before anything is published: a repository is useless
        # without them, while an unused stored key is harmless.
        for role, keys in roles.items():
            for key in keys:
                store_for(keystore, role).put(key)
        repo = cls(
            repo_dir,
            keystore,
            Metadata(root),
            Metadata(Targets(expires=_expires(now, "targets", expiry))),
            Metadata(Snapshot(expires=_expires(now, "snapshot", expiry))),
            Metadata(Timestamp(expires=_expires(now, "timestamp", expiry))),
            expiry,
            writer,
        )
        created_dir = not repo_dir.exists()
        repo_dir.mkdir(parents=True, exist_ok=True)
        try:
            with locked(repo_dir):
                publication = Publication(repo_dir, writer=writer)
                repo._sign("root", repo.root)
                publication.add("metadata/1.root.json", repo.root.to_bytes(_SERIALIZER))
                repo._finish(publication, now, new_targets=True, bump=False)
        except BaseException:
            if created_dir:
                repo_dir.rmdir()
            raise
        return repo

    @classmethod
    def load(cls, repo_dir: Path, keystore: KeyStore) -> Repository:
        repo_dir = Path(repo_dir)
        meta = repo_dir / "metadata"
        if not (meta / "timestamp.json").is_file():
            raise ReleaseError(
                f"{repo_dir} is not a release repository (no metadata/timestamp.json); "
                "create one with: nodekeeper release init"
            )
        versions = [int(m[1]) for p in meta.iterdir() if (m := _ROOT_FILE.fullmatch(p.name))]
        if not versions:
            raise ReleaseError(f"{meta} has no N.root.json; the repository is damaged")
        root = _read(meta / f"{max(versions)}.root.json", Root)
        timestamp_bytes = _read_bytes(meta / "timestamp.json")
        timestamp = _read(meta / "timestamp.json", Timestamp, timestamp_bytes)
        snapshot = _read(meta / f"{timestamp.signed.snapshot_meta.version}.snapshot.json", Snapshot)
        targets_meta = snapshot.signed.meta.get("targets.json")
        if targets_meta is None:
            raise ReleaseError(f"{meta}: snapshot lists no targets.json; the repository is damaged")
        targets = _read(meta / f"{targets_meta.version}.targets.json", Targets)
        return cls(
            repo_dir, keystore, root, targets, snapshot, timestamp, loaded_timestamp=timestamp_bytes
        )

    # ---- changes --------------------------------------------------------------

    def target_info(self, path: str) -> TargetFile | None:
        return self.targets.signed.targets.get(path)

    def read_target(self, path: str) -> bytes | None:
        """The published bytes of target ``path``, checked against the signed info."""
        info = self.target_info(path)
        if info is None:
            return None
        folder, _, name = path.rpartition("/")
        prefix = f"{folder}/" if folder else ""
        file = self.repo_dir / "targets" / f"{prefix}{info.hashes['sha256']}.{name}"
        try:
            data = file.read_bytes()
            info.verify_length_and_hashes(data)
        except Exception as exc:
            raise ReleaseError(f"{file} does not match its signed target info ({exc})") from None
        return data

    def add_targets(self, files: dict[str, bytes | Path], now: datetime) -> list[str]:
        """Publish target files under their TUF paths (``folder/name``)."""
        with locked(self.repo_dir):
            self._check_unchanged()
            publication = Publication(self.repo_dir, writer=self.writer)
            for path, content in files.items():
                if isinstance(content, Path):
                    info = TargetFile.from_file(path, str(content), ["sha256"])
                else:
                    info = TargetFile.from_data(path, content, ["sha256"])
                folder, _, name = path.rpartition("/")
                prefix = f"{folder}/" if folder else ""
                publication.add(f"targets/{prefix}{info.hashes['sha256']}.{name}", content)
                self.targets.signed.targets[path] = info
            return self._finish(publication, now, new_targets=True)

    def refresh(self, now: datetime) -> list[str]:
        """Re-sign snapshot and timestamp; targets and root too when close to expiring.

        Root and targets are renewed only where their keys are at hand: a
        scheduled refresh on a host without them (kept offline) signs
        timestamp and snapshot alone; :meth:`expiry_warnings` says what is
        left to renew.
        """
        with locked(self.repo_dir):
            self._check_unchanged()
            publication = Publication(self.repo_dir, writer=self.writer)
            if self._due("root", now) and self.has_keys("root"):
                self._new_root(publication, now, previous_root=None)
            renew_targets = self._due("targets", now) and self.has_keys("targets")
            return self._finish(publication, now, new_targets=renew_targets)

    def _due(self, role: str, now: datetime) -> bool:
        signed = self.root.signed if role == "root" else self.targets.signed
        return signed.expires - now < RENEW_WITHIN[role]

    def has_keys(self, role: str) -> bool:
        """Whether the key store holds enough of ``role``'s keys to sign it."""
        delegation = self.root.signed.roles[role]
        found = sum(1 for keyid in delegation.keyids if self.keystore.get(keyid) is not None)
        return found >= delegation.threshold

    def expiry_warnings(self, now: datetime) -> list[str]:
        """Root or targets close to expiring whose keys are not at hand, in words."""
        warnings = []
        for role in ("root", "targets"):
            if self._due(role, now) and not self.has_keys(role):
                signed = self.root.signed if role == "root" else self.targets.signed
                warnings.append(
                    f"the {role} metadata expires on {signed.expires:%Y-%m-%d}; run release "
                    f"refresh with the {role} key (--key-file FILE where it is kept) before then"
                )
        return warnings

    def renew_online(self, now: datetime) -> list[str] | None:
        """Re-sign timestamp and snapshot once half their validity is gone; never root.

        Targets are re-signed too when close to expiring. None when everything
        is fresh enough (nothing written). Only the online keys are needed.
        """
        half = {role: self.expiry[role] / 2 for role in ("timestamp", "snapshot")}
        renew_targets = self._due("targets", now) and self.has_keys("targets")
        if (
            self.timestamp.signed.expires - now >= half["timestamp"]
            and self.snapshot.signed.expires - now >= half["snapshot"]
            and not renew_targets
        ):
            return None
        with locked(self.repo_dir):
            self._check_unchanged()
            publication = Publication(self.repo_dir, writer=self.writer)
            return self._finish(publication, now, new_targets=renew_targets)

    def root_expires_soon(self, now: datetime) -> bool:
        return self._due("root", now)

    def rotate_key(self, role: str, now: datetime, *, old_keyid: str | None = None) -> ReleaseKey:
        """Replace one key of ``role``; the new root is signed by old and new root keys."""
        if role not in ROLES:
            raise ReleaseError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
        current = self.root.signed.roles[role].keyids
        if old_keyid is None:
            if len(current) != 1:
                raise ReleaseError(
                    f"the {role} role has {len(current)} keys; name the one to replace with --old KEYID"
                )
            old_keyid = current[0]
        matches = [k for k in current if k.startswith(old_keyid)]
        if len(matches) != 1:
            raise ReleaseError(f"no single {role} key starts with {old_keyid!r}")
        with locked(self.repo_dir):
            self._check_unchanged()
            previous_root = Metadata.from_bytes(self.root.to_bytes())
            new_key = ReleaseKey.generate()
            store_for(self.keystore, role).put(new_key)
            self.root.signed.revoke_key(matches[0], role)
            self.root.signed.add_key(new_key.public_key, role)
            publication = Publication(self.repo_dir, writer=self.writer)
            self._new_root(publication, now, previous_root=previous_root)
            self._finish(publication, now, new_targets=True)
            return new_key

    # ---- signing and publishing ----------------------------------------------

    def _new_root(
        self, publication: Publication, now: datetime, *, previous_root: Metadata[Root] | None
    ) -> None:
        signed = self.root.signed
        signed.version += 1
        signed.expires = _expires(now, "root", self.expiry)
        self.root.signatures.clear()
        # A client trusts a new root only if the old root's keys vouch for it too.
        self._sign("root", self.root, extra_root=previous_root)
        publication.add(f"metadata/{signed.version}.root.json", self.root.to_bytes(_SERIALIZER))

    def _finish(
        self, publication: Publication, now: datetime, *, new_targets: bool, bump: bool = True
    ) -> list[str]:
        targets_file = f"metadata/{self.targets.signed.version}.targets.json"
        if new_targets:
            if bump:
                self.targets.signed.version += 1
            self.targets.signed.expires = _expires(now, "targets", self.expiry)
            self._sign("targets", self.targets)
            targets_file = f"metadata/{self.targets.signed.version}.targets.json"
            targets_bytes = self.targets.to_bytes(_SERIALIZER)
            publication.add(targets_file, targets_bytes)
        else:
            targets_bytes = (self.repo_dir / targets_file).read_bytes()
        snapshot = self.snapshot.signed
        if bump:
            snapshot.version += 1
        # Length and hash, not just the version: a validly signed targets file from
        # another branch of history cannot be mixed in.
        snapshot.meta["targets.json"] = _meta_for(self.targets.signed.version, targets_bytes)
        snapshot.expires = _expires(now, "snapshot", self.expiry)
        self._sign("snapshot", self.snapshot)
        snapshot_bytes = self.snapshot.to_bytes(_SERIALIZER)
        publication.add(f"metadata/{snapshot.version}.snapshot.json", snapshot_bytes)
        timestamp = self.timestamp.signed
        if bump:
            timestamp.version += 1
        timestamp.snapshot_meta = _meta_for(snapshot.version, snapshot_bytes)
        timestamp.expires = _expires(now, "timestamp", self.expiry)
        self._sign("timestamp", self.timestamp)
        timestamp_bytes = self.timestamp.to_bytes(_SERIALIZER)
        written = publication.commit(timestamp_bytes)
        self.loaded_timestamp = timestamp_bytes
        return written

    def _check_unchanged(self) -> None:
        if self.loaded_timestamp is None:
            return
        try:
            current = (self.repo_dir / TIMESTAMP).read_bytes()
        except OSError:
            current = None
        if current != self.loaded_timestamp:
            raise ReleaseError(
                f"{self.repo_dir} was changed by another command while this one ran; "
                "nothing published, run it again"
            )

    def _sign(
        self,
        role: str,
        metadata: Metadata[Root] | Metadata[Targets] | Metadata[Snapshot] | Metadata[Timestamp],
        *,
        extra_root: Metadata[Root] | None = None,
    ) -> None:
        metadata.signatures.clear()
        delegators = [self.root.signed] + ([extra_root.signed] if extra_root is not None else [])
        keyids: list[str] = []
        for delegator in delegators:
            keyids += [k for k in delegator.roles[role].keyids if k not in keyids]
        for keyid in keyids:
            key = self.keystore.get(keyid)
            if key is not None:
                metadata.sign(key.signer(), append=True)
        for delegator in delegators:
            try:
                delegator.verify_delegate(role, metadata.signed_bytes, metadata.signatures)
            except UnsignedMetadataError:
                missing = [
                    k[:12] for k in delegator.roles[role].keyids if k not in metadata.signatures
                ]
                raise ReleaseError(
                    f"not enough private keys for the {role} role in {self.keystore.describe()} "
                    f"(missing key ids {', '.join(missing)}); pass --key-file with the keys from release init"
                ) from None


def _meta_for(version: int, data: bytes) -> MetaFile:
    return MetaFile.from_data(version, data, ["sha256"])


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ReleaseError(f"{path} is missing; the repository is damaged") from None
    except OSError as exc:
        raise ReleaseError(f"cannot read {path}: {exc.strerror}") from None


def _read(
    path: Path,
    kind: type[Root] | type[Targets] | type[Snapshot] | type[Timestamp],
    data: bytes | None = None,
) -> Metadata:  # type: ignore[type-arg]
    try:
        md: Metadata = Metadata.from_bytes(  # type: ignore[type-arg]
            _read_bytes(path) if data is None else data
        )
    except (DeserializationError, ValueError) as exc:
        raise ReleaseError(f"{path} is not valid TUF metadata: {exc}") from None
    if not isinstance(md.signed, kind):
        raise ReleaseError(f"{path} holds {md.signed.type} metadata, not {kind.type}")
    return md


__all__ = ["DEFAULT_EXPIRY", "ROLES", "TIMESTAMP", "Repository"]
