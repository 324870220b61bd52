"""Which nodekeeper core this process is: the version of its bundle, or of the package.

A core bundle says its version in its manifest (core/selfupdate/manifest.py):
the PyInstaller bundle next to its executable, a development build in the
folder its launcher script names in ``NODEKEEPER_BUNDLE_DIR``. A core run
from a Python install is the package's ``__version__``. Everything that
reports or compares the running core's version asks :func:`running_version`.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

from nodekeeper.core import __version__

# Set by a development build's launcher script to its own folder.
BUNDLE_DIR_ENV = "NODEKEEPER_BUNDLE_DIR"
# The core the service manager starts (JSON: its version and command), kept through execs.
PACKAGED_ENV = "NODEKEEPER_PACKAGED_CORE"


def bundle_dir() -> Path | None:
    """The core bundle this process runs from, or None for a Python install."""
    named = os.environ.get(BUNDLE_DIR_ENV)
    if named:
        return Path(named)
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent
    return None


@functools.cache
def running_version() -> str:
    """The version of the core in this process (read once: an exec starts a new one)."""
    folder = bundle_dir()
    if folder is None:
        return __version__
    from nodekeeper.core.selfupdate.manifest import ManifestError, read_manifest

    try:
        return read_manifest(folder).version
    except ManifestError:
        return __version__


def remember_packaged_core() -> None:
    """Note this process, started by the service manager, as the packaged core: its
    version and how to run it, for a later switch back to it (``core-rollback``)."""
    from nodekeeper.core.selfexec import CORE_MODULE, module_command

    folder = bundle_dir()
    command = list(module_command(CORE_MODULE))
    if folder is not None and not getattr(sys, "frozen", False):  # a development build
        from nodekeeper.core.selfupdate.manifest import ManifestError, read_manifest

        try:
            command = [str(folder / read_manifest(folder).entry)]
        except ManifestError:
            pass
    os.environ[PACKAGED_ENV] = json.dumps({"version": running_version(), "command": command})


def packaged_core() -> tuple[str, tuple[str, ...]] | None:
    """The packaged core's version and command, as :func:`remember_packaged_core` noted them."""
    try:
        noted = json.loads(os.environ.get(PACKAGED_ENV, ""))
        version, command = noted["version"], noted["command"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(version, str) or not isinstance(command, list) or not command:
        return None
    return version, tuple(str(part) for part in command)
