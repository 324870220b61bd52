"""Safe unpacking of a release archive.

A node release is a zip holding one executable; a core bundle is a
``.tar.gz`` or ``.zip`` holding one top folder (``unpack_bundle``).

The archive has been verified against its signed hash before it gets here,
but the unpacker still trusts nothing in it. For a node release it accepts
exactly one regular file named like the node's binary at the top level,
refuses absolute paths, ``..``, drive letters, symlinks, encrypted entries
and anything that would decompress beyond ``max_size`` (counted while
writing, not taken from the header), then writes the binary with fsync and
the executable bit set. A bundle gets the same name checks for every entry;
links must stay inside the folder and device files are refused.
"""

from __future__ import annotations

import os
import stat
import tarfile
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
    with _open_zip(archive) as zf:
        members = _checked_members(zf)
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


def _open_zip(archive: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnpackError(f"{archive.name} is not a valid zip archive ({exc})") from None


def _checked_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Every entry, refused when one is outside the folder, a link or encrypted."""
    members = zf.infolist()
    for info in members:
        check_member_name(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnpackError(f"archive entry {info.filename!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise UnpackError(f"archive entry {info.filename!r} is encrypted")
    return members


def _extract(
    zf: zipfile.ZipFile, entry: zipfile.ZipInfo, target: Path, max_size: int, mode: int = 0o755
) -> None:
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
        os.chmod(target, mode)
    except FileExistsError:
        raise UnpackError(f"{target} already exists; unpack into a fresh folder") from None
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise UnpackError(f"{entry.filename} is corrupt in the archive ({exc})") from None
    except OSError as exc:
        raise UnpackError(f"cannot write {target}: {exc.strerror or exc}") from None


def unpack_bundle(archive: Path, dest_dir: Path, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
    """Extract a bundle (one top folder, in a .tar.gz or .zip) so its contents land in ``dest_dir``.

    The format is read from the content, not the name: the signed target
    name says which platform, not which archive tool made it.
    """
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnpackError(f"cannot create {dest_dir}: {exc.strerror}") from None
    if zipfile.is_zipfile(archive):
        _unpack_zip_bundle(archive, dest_dir, max_size)
    else:
        _unpack_tar_bundle(archive, dest_dir, max_size)


def _top_folder(names: list[str], archive: Path) -> str:
    tops = {name.replace("\\", "/").strip("/").split("/")[0] for name in names}
    if len(tops) != 1:
        shown = ", ".join(sorted(tops)[:5])
        raise UnpackError(f"{archive.name} must hold one top folder, it holds: {shown}")
    return tops.pop()


def _inside(name: str, top: str) -> str:
    """``name`` relative to the top folder; "" for the folder itself."""
    return name.replace("\\", "/").strip("/").removeprefix(top).lstrip("/")


def _unpack_tar_bundle(archive: Path, dest_dir: Path, max_size: int) -> None:
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise UnpackError(f"{archive.name} is neither a zip nor a tar archive ({exc})") from None
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UnpackError(f"{archive.name} is corrupt ({exc})") from None
        for member in members:
            check_member_name(member.name)
            if member.islnk():
                raise UnpackError(f"archive entry {member.name!r} is a hard link")
        top = _top_folder([m.name for m in members], archive)
        if sum(m.size for m in members if m.isfile()) > max_size:
            raise UnpackError(f"{archive.name} would unpack to more than {max_size} bytes")

        def inside_top(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
            name = _inside(member.name, top)
            if not name:
                return None
            # The data filter refuses links that leave the folder, devices and odd modes.
            return tarfile.data_filter(member.replace(name=name, deep=False), path)

        try:
            tar.extractall(dest_dir, filter=inside_top)
        except (tarfile.TarError, EOFError) as exc:
            raise UnpackError(f"{archive.name}: {exc}") from None
        except OSError as exc:
            raise UnpackError(f"cannot unpack into {dest_dir}: {exc.strerror or exc}") from None


def _unpack_zip_bundle(archive: Path, dest_dir: Path, max_size: int) -> None:
    with _open_zip(archive) as zf:
        members = _checked_members(zf)
        top = _top_folder([i.filename for i in members], archive)
        if sum(i.file_size for i in members) > max_size:
            raise UnpackError(f"{archive.name} would unpack to more than {max_size} bytes")
        for info in members:
            name = _inside(info.filename, top)
            if not name:
                continue
            target = dest_dir / name
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UnpackError(f"cannot create {target}: {exc.strerror}") from None
            mode = (info.external_attr >> 16) & 0o777 or 0o644
            _extract(zf, info, target, max_size, mode | 0o600)
