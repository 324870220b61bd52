"""Builds nodekeeper's self-contained bundles and the Debian package.

    python installers/build.py [core] [tray] [deb]     (scripts/build runs it)

``core``: ``dist/nodekeeper-<version>-<os>-<arch>.tar.gz`` (``.zip`` on Windows),
the core and CLI made with PyInstaller (onedir), no Qt, with its
``nodekeeper-bundle.json`` manifest (core/selfupdate/manifest.py). ``tray``: the same for
``nodekeeper-tray``. ``deb``: ``dist/nodekeeper_<version>_<debian arch>.deb``
from the core bundle and ``installers/linux/debian`` (Debian's dpkg-buildpackage).
Each output is rebuilt only when a file it is made from changed since the last
build (a digest kept next to it), so tests and CI can ask for it freely.
Errors are one line on stderr and exit code 1.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
WORK = ROOT / "build" / "bundle"
SPECS = ROOT / "installers" / "bundle"
DEBIAN = ROOT / "installers" / "linux" / "debian"
_SCRIPTS = ("rules", "postinst", "prerm", "postrm")
DEB_ARCHES = {"amd64": "amd64", "arm64": "arm64", "arm": "armhf", "386": "i386"}


class BuildError(Exception):
    pass


def version() -> str:
    from nodekeeper.core import __version__

    return __version__


def platform_id() -> tuple[str, str]:
    from nodekeeper.core.platform.ids import current_arch, current_os

    return current_os(), current_arch()


def digest(paths: Iterable[Path]) -> str:
    """One digest over the files a build is made from and the Python packages it bundles."""
    sha = hashlib.sha256()
    for path in sorted(paths):
        if path.is_file() and "__pycache__" not in path.parts:
            sha.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=False,
    )
    sha.update(freeze.stdout.encode() + sys.version.encode())
    return sha.hexdigest()


def up_to_date(output: Path, wanted: str) -> bool:
    stamp = output.with_name(output.name + ".digest")
    return output.is_file() and stamp.is_file() and stamp.read_text().strip() == wanted


def mark(output: Path, wanted: str) -> None:
    output.with_name(output.name + ".digest").write_text(wanted + "\n")


def ensure_pyinstaller() -> None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        print("build: installing PyInstaller (the [build] extra)")
        run([sys.executable, "-m", "pip", "install", "-q", "-e", f"{ROOT}[build]"])


def run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, env=env, check=False)
    if done.returncode != 0:
        raise BuildError(f"`{' '.join(argv)}` failed with exit code {done.returncode}")


def pyinstaller(name: str) -> Path:
    """Run the spec ``name``; return the onedir folder it made."""
    ensure_pyinstaller()
    if os.name == "nt":
        # Windows may copy the source tree instead of linking it: never reuse a stale copy.
        shutil.rmtree(WORK / "src", ignore_errors=True)
    work = WORK / name
    run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            str(work / "dist"),
            "--workpath",
            str(work / "work"),
            str(SPECS / f"{name}.spec"),
        ],
        cwd=SPECS,
    )
    return work / "dist" / name


def archive(folder: Path, output: Path, top: str) -> None:
    temporary = output.with_name(f".{output.name}.tmp")
    if output.name.endswith(".zip"):
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(folder.rglob("*")):
                zipped.write(path, f"{top}/{path.relative_to(folder)}")
    else:
        with tarfile.open(temporary, "w:gz") as tar:
            tar.add(folder, arcname=top)
    os.replace(temporary, output)


def bundle(name: str, sources: list[Path]) -> Path:
    os_name, arch = platform_id()
    stem = f"{name}-{version()}-{os_name}-{arch}"
    output = DIST / (stem + (".zip" if os_name == "windows" else ".tar.gz"))
    wanted = digest(sources)
    if up_to_date(output, wanted):
        print(f"build: {output.relative_to(ROOT)} is up to date")
        return output
    print(f"build: {output.relative_to(ROOT)} (PyInstaller, takes a few minutes)")
    folder = pyinstaller(name)
    if name == "nodekeeper":
        write_manifest(folder, os_name, arch)
    DIST.mkdir(exist_ok=True)
    archive(folder, output, stem)
    mark(output, wanted)
    print(f"build: wrote {output.relative_to(ROOT)}")
    return output


def write_manifest(folder: Path, os_name: str, arch: str) -> None:
    """The core bundle's nodekeeper-bundle.json: what self-update and ``release add`` check."""
    from nodekeeper.core.selfupdate.manifest import (
        BUNDLE_NAME,
        MANIFEST_NAME,
        BundleManifest,
        entry_name,
    )

    manifest = BundleManifest(BUNDLE_NAME, version(), f"{os_name}-{arch}", entry_name(os_name))
    (folder / MANIFEST_NAME).write_bytes(manifest.to_json())


def core_sources() -> list[Path]:
    return [
        *(ROOT / "core").rglob("*"),
        *SPECS.glob("nodekeeper.spec"),
        SPECS / "nodekeeper_main.py",
        ROOT / "pyproject.toml",
    ]


def tray_sources() -> list[Path]:
    return [
        *core_sources(),
        *(ROOT / "tray").rglob("*"),
        *(ROOT / "resources").rglob("*"),
        SPECS / "nodekeeper-tray.spec",
        SPECS / "nodekeeper_tray_main.py",
    ]


def deb() -> Path:
    """The .deb, built by dpkg-buildpackage from the core bundle and installers/linux/debian."""
    core = bundle("nodekeeper", core_sources())
    _, arch = platform_id()
    deb_arch = DEB_ARCHES[arch]
    output = DIST / f"nodekeeper_{version()}-1_{deb_arch}.deb"
    unit = ROOT / "installers" / "linux" / "nodekeeper@.service"
    wanted = digest([core, unit, *DEBIAN.rglob("*")])
    if up_to_date(output, wanted):
        print(f"build: {output.relative_to(ROOT)} is up to date")
        return output
    for tool in ("dpkg-buildpackage", "dh", "fakeroot"):
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} is not installed: run scripts/setup as root first")
    changelog = (DEBIAN / "changelog").read_text().split("\n", 1)[0]
    if f"({version()}-" not in changelog:
        raise BuildError(
            f"installers/linux/debian/changelog starts with {changelog!r}: "
            f"add an entry for {version()} (the version in core/__init__.py)"
        )
    source = WORK / "deb" / f"nodekeeper-{version()}"
    shutil.rmtree(source.parent, ignore_errors=True)
    source.mkdir(parents=True)
    shutil.copytree(DEBIAN, source / "debian")
    with tarfile.open(core) as tar:
        tar.extractall(source, filter="tar")
    (source / core.name.removesuffix(".tar.gz")).rename(source / "bundle")
    shutil.copy(unit, source / "debian" / "nodekeeper@.service")
    for path in (source / "debian").rglob("*"):
        if path.is_file():
            path.chmod(0o755 if path.name in _SCRIPTS else 0o644)
    run(["dpkg-buildpackage", "-b", "-uc", "-us", "-rfakeroot", f"-a{deb_arch}"], cwd=source)
    built = source.parent / output.name
    if not built.is_file():
        raise BuildError(f"dpkg-buildpackage made no {output.name}")
    os.replace(built, output)
    lintian = shutil.which("lintian")
    if lintian is not None:
        # Clean, or each override justified in debian/nodekeeper.lintian-overrides.
        run([lintian, "--fail-on", "warning,error", str(output)])
    mark(output, wanted)
    print(f"build: wrote {output.relative_to(ROOT)}")
    return output


def main(argv: list[str]) -> int:
    targets = argv or ["core", "tray"] + (["deb"] if shutil.which("dpkg-buildpackage") else [])
    try:
        for target in targets:
            if target == "core":
                bundle("nodekeeper", core_sources())
            elif target == "tray":
                bundle("nodekeeper-tray", tray_sources())
            elif target == "deb":
                deb()
            else:
                raise BuildError(f"unknown target {target!r} (use core, tray, deb)")
    except BuildError as exc:
        print(f"build: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
