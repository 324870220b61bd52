"""Safe unpacking of a release archive (a zip holding one executable).

The archive has been verified against its signed hash before it gets here,
but the unpacker still trusts nothing in it: it accepts exactly one regular
file named like the node's binary at the top level, refuses absolute paths,
``..``, drive letters, symlinks, encrypted entries and anything that would
decompress beyond ``max_size`` (counted while writing, not taken from the
header), then writes the binary with fsync and the executable bit set.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from nodekeeper.core.update.errors import UnpackError

DEFAULT_MAX_SIZE = 1 << 30  # storagenode binaries are well under 200 MiB
_CHUNK = 1 << 20


def check_member_name(name: str) -> None:
    """Reject names that could land outside the target folder on any OS."""
    if not name or "\x00" in name:
        raise UnpackError("archive holds an entry with an empty or binary name")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnpackError(f"archive entry {name!r} has an absolute path")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise UnpackError(f"archive entry {name!r} climbs out of its folder")


def unpack_release(
    archive: Path, dest_dir: Path, *, binary_name: str, max_size: int = DEFAULT_MAX_SIZE
) -> Path:
    """Extract ``binary_name`` from ``archive`` into ``dest_dir``; return its path."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnpackError(f"{archive.name} is not a valid zip archive ({exc})") from None
    with zf:
        members = zf.infolist()
        for info in members:
            check_member_name(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnpackError(f"archive entry {info.filename!r} is a symbolic link")
            if info.flag_bits & 0x1:
                raise UnpackError(f"archive entry {info.filename!r} is encrypted")
        files = [i for i in members if not i.is_dir()]
        if len(files) != 1 or len(members) != 1:
            names = ", ".join(repr(i.filename) for i in members[:5])
            raise UnpackError(
                f"archive must hold only {binary_name!r}, it holds {len(members)} entries: {names}"
            )
        entry = files[0]
        if entry.filename != binary_name:
            raise UnpackError(f"archive holds {entry.filename!r}, expected {binary_name!r}")
        if entry.file_size > max_size:
            raise UnpackError(
                f"{binary_name} would unpack to {entry.file_size} bytes, more than {max_size}"
            )
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UnpackError(f"cannot create {dest_dir}: {exc.strerror}") from None
        target = dest_dir / binary_name
        try:
            _extract(zf, entry, target, max_size)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    return target


def _extract(zf: zipfile.ZipFile, entry: zipfile.ZipInfo, target: Path, max_size: int) -> None:
    written = 0
    try:
        with zf.open(entry) as source, open(target, "xb") as out:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                # The header's size is only a claim; count what really comes out.
                if written > max_size or written > entry.file_size:
                    raise UnpackError(f"{entry.filename} decompresses beyond its declared size")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(target, 0o755)
    except FileExistsError:
        raise UnpackError(f"{target} already exists; unpack into a fresh folder") from None
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise UnpackError(f"{entry.filename} is corrupt in the archive ({exc})") from None
    except OSError as exc:
        raise UnpackError(f"cannot write {target}: {exc.strerror or exc}") from None
