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
