"""``nodekeeper-bundle.json``: what a core bundle folder says about itself.

Every core bundle (the PyInstaller onedir output of ``installers/build.py``,
and every version in the core's install store) carries this file at its
top: ``{"name": "nodekeeper", "version": "0.2.0", "platform":
"linux-amd64", "entry": "nodekeeper"}``. The installer and the publisher
check a bundle against the version and platform it is published for, and
the launcher finds the executable through ``entry``. Reading is strict: a
bundle that does not say clearly what it is gets installed nowhere.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.update.version import Version

MANIFEST_NAME = "nodekeeper-bundle.json"
BUNDLE_NAME = "nodekeeper"
_MAX_BYTES = 64 * 1024


class ManifestError(OperationFailed):
    """A core bundle's manifest is missing or does not describe a usable bundle."""


@dataclass(frozen=True)
class BundleManifest:
    name: str
    version: str
    platform: str  # Go's names, "linux-amd64"
    entry: str  # the executable, relative to the bundle folder, "/"-separated

    def to_json(self) -> bytes:
        data = {
            "name": self.name,
            "version": self.version,
            "platform": self.platform,
            "entry": self.entry,
        }
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_dict(cls, data: object) -> BundleManifest:
        """The manifest in parsed JSON; ValueError names the bad key."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        fields: dict[str, str] = {}
        for key in ("name", "version", "platform", "entry"):
            value: Any = data.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{key!r} must be a non-empty string, got {value!r}")
            fields[key] = value
        try:
            Version.parse(fields["version"])
        except ValueError:
            raise ValueError(f"'version' is not a version: {fields['version']!r}") from None
        os_name, dash, arch = fields["platform"].partition("-")
        if not (os_name and dash and arch):
            raise ValueError(f"'platform' must be OS-ARCH, got {fields['platform']!r}")
        entry = PurePosixPath(fields["entry"])
        if entry.is_absolute() or ".." in entry.parts or "\\" in fields["entry"]:
            raise ValueError(f"'entry' must be a path inside the bundle, got {fields['entry']!r}")
        return cls(**fields)


def read_manifest(folder: Path) -> BundleManifest:
    """The manifest of the bundle in ``folder``; ManifestError with one line otherwise."""
    path = folder / MANIFEST_NAME
    try:
        with open(path, "rb") as file:
            raw = file.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        raise ManifestError(f"{folder} is not a core bundle: it has no {MANIFEST_NAME}") from None
    except OSError as exc:
        raise ManifestError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > _MAX_BYTES:
        raise ManifestError(f"{path} is larger than a bundle manifest may be")
    try:
        return BundleManifest.from_dict(json.loads(raw))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path} is not valid JSON ({exc})") from None
    except ValueError as exc:
        raise ManifestError(f"{path} is invalid: {exc}") from None


def manifest_in_archive(archive: Path) -> BundleManifest:
    """The manifest of a bundle archive (.tar.gz or .zip with one top folder), read in place.

    For the publisher: it also checks that the entry is a file of the
    archive. ManifestError with one line when the archive is not a bundle.
    """
    try:
        names, read = _archive_reader(archive)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise ManifestError(f"{archive} is not a .tar.gz or .zip archive ({exc})") from None
    tops = {name.strip("/").split("/")[0] for name in names}
    if len(tops) != 1:
        raise ManifestError(f"{archive} is not a core bundle: it must hold one top folder")
    top = tops.pop()
    raw = read(f"{top}/{MANIFEST_NAME}")
    if raw is None:
        raise ManifestError(f"{archive} is not a core bundle: {top}/ has no {MANIFEST_NAME}")
    try:
        manifest = BundleManifest.from_dict(json.loads(raw))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{archive}: {MANIFEST_NAME} is not valid JSON ({exc})") from None
    except ValueError as exc:
        raise ManifestError(f"{archive}: {MANIFEST_NAME} is invalid: {exc}") from None
    if f"{top}/{manifest.entry}" not in names:
        raise ManifestError(f"{archive}: the entry {manifest.entry!r} is not in the bundle")
    return manifest


def _archive_reader(archive: Path) -> tuple[set[str], Callable[[str], bytes | None]]:
    """The file names of an archive and its (small) manifest files by name."""
    manifests: dict[str, bytes] = {}
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            entries = {i.filename.rstrip("/"): i for i in zf.infolist() if not i.is_dir()}
            for name, info in entries.items():
                if name.endswith("/" + MANIFEST_NAME) and info.file_size <= _MAX_BYTES:
                    manifests[name] = zf.read(info)
        return set(entries), manifests.get
    with tarfile.open(archive, "r:*") as tar:
        files = {m.name.strip("/"): m for m in tar.getmembers() if m.isfile()}
        for name, member in files.items():
            if name.endswith("/" + MANIFEST_NAME) and (raw := _read_member(tar, member)):
                manifests[name] = raw
    return set(files), manifests.get


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes | None:
    if member.size > _MAX_BYTES:
        return None
    file = tar.extractfile(member)
    return None if file is None else file.read()


def check_manifest(manifest: BundleManifest, *, version: str, platform: str, where: str) -> None:
    """Refuse a bundle that is not nodekeeper ``version`` for ``platform``."""
    if manifest.name != BUNDLE_NAME:
        raise ManifestError(f"{where} is a bundle of {manifest.name!r}, not {BUNDLE_NAME!r}")
    if Version.parse(manifest.version) != Version.parse(version):
        raise ManifestError(f"{where} holds version {manifest.version}, expected {version}")
    if manifest.platform != platform:
        raise ManifestError(f"{where} is built for {manifest.platform}, expected {platform}")


def this_platform() -> str:
    """This machine's platform in the release layout's names, as the node updater computes it."""
    from nodekeeper.core.update.sources.artifact import platform_names

    os_name, arch = platform_names()
    return f"{os_name}-{arch}"


def entry_name(os_name: str) -> str:
    """The executable a bundle for ``os_name`` names as its entry."""
    return "nodekeeper.exe" if os_name == "windows" else "nodekeeper"
