"""Development builds of the core: this Python install, packed as a core bundle.

A core bundle is a folder with ``nodekeeper-bundle.json`` and an executable
entry (core/selfupdate/manifest.py). The release build is the PyInstaller
bundle (``scripts/build``); a development build is a launcher script that
runs this install's Python with ``NODEKEEPER_BUNDLE_DIR`` set, so that the
core reports the version its manifest gives. The demo publishes these (a new
core, and a build that dies at start) to show a self-update and its
rollback in seconds, without building a bundle; they run only on the
machine that made them.
"""

from __future__ import annotations

import shlex
import sys
import tarfile
from pathlib import Path

from nodekeeper.core.selfupdate.manifest import (
    MANIFEST_NAME,
    BundleManifest,
    read_manifest,
    this_platform,
)
from nodekeeper.core.version import BUNDLE_DIR_ENV

_SCRIPT = """#!/bin/sh
# nodekeeper core {version}: a development build of {python}
{env}="$(cd "$(dirname "$0")" && pwd)"
export {env}
{body}
"""
_RUNS = 'exec {python} -m nodekeeper.core "$@"'
# Passes the start test (--version) but dies as soon as it is asked to run.
_DIES = """case "$1" in
  --version) echo "nodekeeper {version}"; exit 0 ;;
esac
echo "nodekeeper core {version}: this build is broken and exits at once" >&2
exit 70"""


def write_dev_bundle(parent: Path, version: str, *, broken: bool = False) -> Path:
    """``parent/nodekeeper-<version>-<platform>/``, a core bundle of this install."""
    platform = this_platform()
    if platform.startswith("windows-"):
        raise OSError("development builds are shell scripts; Windows needs the real bundle")
    folder = parent / f"nodekeeper-{version}-{platform}"
    folder.mkdir(parents=True, exist_ok=False)
    python = shlex.quote(sys.executable)
    body = (_DIES if broken else _RUNS).format(python=python, version=version)
    script = _SCRIPT.format(version=version, python=sys.executable, env=BUNDLE_DIR_ENV, body=body)
    entry = folder / "nodekeeper"
    entry.write_text(script)
    entry.chmod(0o755)
    manifest = BundleManifest("nodekeeper", version, platform, "nodekeeper")
    (folder / MANIFEST_NAME).write_bytes(manifest.to_json())
    return folder


def copy_bundle(source: Path, parent: Path, version: str) -> Path:
    """A copy of the bundle in ``source`` stamped as ``version`` (the same build, republished)."""
    import shutil

    manifest = read_manifest(source)
    folder = parent / f"nodekeeper-{version}-{manifest.platform}"
    shutil.copytree(source, folder, symlinks=True)
    stamped = BundleManifest(manifest.name, version, manifest.platform, manifest.entry)
    (folder / MANIFEST_NAME).write_bytes(stamped.to_json())
    return folder


def pack_bundle(folder: Path, archive: Path | None = None) -> Path:
    """``<folder>.tar.gz`` with the folder at its top, as ``release add`` takes it."""
    archive = archive or folder.with_name(folder.name + ".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive
