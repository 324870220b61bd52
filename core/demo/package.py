"""Demo node releases: the executable and the release zip the updater installs.

The executable is ``core/demo/node.py`` itself, verbatim except for the
baked-in ``DEFAULT_VERSION``, behind a ``#!`` line naming the running
interpreter, so it runs wherever this Python runs (a test venv included)
without importing nodekeeper. Inside a self-contained bundle, which has no
Python, it is a ``#!/bin/sh`` wrapper that runs the node through the bundle's
executable (:mod:`nodekeeper.core.selfexec`). The zip holds exactly that one file, mode
0755, with fixed timestamps: one version always gives the same bytes, as a
reproducible build would.

This module builds files only; it never starts the node.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import zipfile
from pathlib import Path

from nodekeeper.core.demo.node import parse_version_string
from nodekeeper.core.errors import UsageError
from nodekeeper.core.platform.ids import GO_ARCHES, GO_OSES, current_arch, current_os
from nodekeeper.core.selfexec import DEMO_NODE_MODULE, is_frozen, module_command

NODE_SOURCE = Path(__file__).with_name("node.py")
_DEFAULT_VERSION_LINE = re.compile(r'^DEFAULT_VERSION = "[^"\n]*"$', re.MULTILINE)
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can record
_EXECUTABLE_MODE = 0o100755  # regular file, rwxr-xr-x
_UNIX = 3  # "made by" system: the external attributes hold Unix mode bits


class ReleaseBuildError(UsageError):
    """A demo release cannot be built from these arguments."""


def executable_bytes(version: str, interpreter: str | None = None) -> bytes:
    """The demo node as a self-contained script that reports ``version``."""
    try:
        version = parse_version_string(version)
    except ValueError as exc:
        raise ReleaseBuildError(f"demo release: {exc}") from None
    if interpreter is None and is_frozen():
        # A bundle has no Python to name in a #! line: its executable runs the node.
        node = [*module_command(DEMO_NODE_MODULE), "--version-string", version]
        return f'#!/bin/sh\nexec {shlex.join(node)} "$@"\n'.encode()
    python = sys.executable if interpreter is None else interpreter
    if not python or not os.path.isabs(python) or any(c.isspace() for c in python):
        raise ReleaseBuildError(
            f"demo release: interpreter path {python!r} cannot go in a #! line "
            "(it must be absolute and without spaces)"
        )
    source, count = _DEFAULT_VERSION_LINE.subn(
        f'DEFAULT_VERSION = "{version}"', NODE_SOURCE.read_text(encoding="utf-8")
    )
    if count != 1:
        raise ReleaseBuildError(f"demo release: {NODE_SOURCE} has no single DEFAULT_VERSION line")
    return f"#!{python}\n{source}".encode()


def build_release_binary(version: str, path: Path) -> Path:
    """Write the bare demo executable (e.g. for ``node.initial_binary``) and return its path."""
    data = executable_bytes(version)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    os.replace(tmp, path)
    return path


def release_file_name(binary_name: str, os_name: str) -> str:
    if not binary_name or binary_name in (".", "..") or any(c in binary_name for c in "/\\\0"):
        raise ReleaseBuildError(f"demo release: binary name {binary_name!r} is not a file name")
    if os_name == "windows" and not binary_name.lower().endswith(".exe"):
        return binary_name + ".exe"
    return binary_name


def build_release_zip(
    version: str,
    dest: Path,
    *,
    binary_name: str = "storagenode",
    os_name: str | None = None,
    arch: str | None = None,
) -> Path:
    """Write a release zip holding one executable; return its path.

    ``dest`` is the zip's path, or an existing folder to put
    ``<os>-<arch>.zip`` in (the name the release layout uses).
    """
    os_name = current_os() if os_name is None else os_name
    arch = current_arch() if arch is None else arch
    if os_name not in GO_OSES:
        raise ReleaseBuildError(
            f"demo release: unknown os {os_name!r} (use one of {', '.join(GO_OSES)})"
        )
    if arch not in GO_ARCHES:
        raise ReleaseBuildError(
            f"demo release: unknown arch {arch!r} (use one of {', '.join(GO_ARCHES)})"
        )
    entry = zipfile.ZipInfo(release_file_name(binary_name, os_name), date_time=_ZIP_EPOCH)
    entry.create_system = _UNIX
    entry.external_attr = _EXECUTABLE_MODE << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    data = executable_bytes(version)
    target = dest / f"{os_name}-{arch}.zip" if dest.is_dir() else dest
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        archive.writestr(entry, data, compresslevel=9)
    os.replace(tmp, target)
    return target


def build_faulty_release_zip(version: str, dest: Path, faults: list[str]) -> Path:
    """A release zip whose binary reports ``version`` but runs the demo node with ``faults``
    (e.g. ``["--crash-after", "1"]``): a bad release for tests and the demo.

    The binary is a POSIX shell wrapper around ``python -m nodekeeper.core.demo.node``
    (inside a bundle: the bundle's executable), so it needs this installation of
    nodekeeper; it answers ``version`` itself.
    """
    version = parse_version_string(version)
    node = [*module_command(DEMO_NODE_MODULE), "--version-string", version]
    project = Path(__file__).resolve().parent.parent.parent
    # A bundle's executable needs no working folder; a source checkout's python does.
    cd = "" if is_frozen() else f"cd {shlex.quote(str(project))} && "
    script = (
        "#!/bin/sh\n"
        f'if [ "$1" = version ]; then echo "Version: v{version}"; exit 0; fi\n'
        f'{cd}exec {shlex.join(node)} "$@" {shlex.join(faults)}\n'
    )
    entry = zipfile.ZipInfo("storagenode", date_time=_ZIP_EPOCH)
    entry.create_system = _UNIX
    entry.external_attr = _EXECUTABLE_MODE << 16
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w") as archive:
        archive.writestr(entry, script)
    return dest
