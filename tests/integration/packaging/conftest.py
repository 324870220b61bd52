"""The self-contained bundle and the .deb, built once per test session.

``scripts/build`` rebuilds an output only when what it is made from
changed, so a CI run that built them before pytest pays nothing here.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.helpers import REPO

BUILD_TIMEOUT_S = 1200


def build(*targets: str) -> None:
    done = subprocess.run(
        [str(REPO / "scripts" / "build"), *targets],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, (
        f"scripts/build {' '.join(targets)} failed:\n{done.stdout}\n{done.stderr}"
    )


def tarball(name: str) -> Path:
    from nodekeeper.core import __version__
    from nodekeeper.core.platform.ids import platform_id

    path = REPO / "dist" / f"{name}-{__version__}-{platform_id()}.tar.gz"
    assert path.is_file(), f"scripts/build made no {path.name}"
    return path


def unpack(name: str, into: Path) -> Path:
    """The bundle's executable ``name``, unpacked from its tarball into ``into``."""
    archive = tarball(name)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="tar")
    top = into / archive.name.removesuffix(".tar.gz")
    executable = top / name
    assert executable.is_file(), f"{archive.name} has no {top.name}/{name}"
    return executable


@pytest.fixture(scope="session")
def core_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The core bundle's `nodekeeper` executable, unpacked from its tarball."""
    build("core")
    return unpack("nodekeeper", tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="session")
def tray_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tray bundle's `nodekeeper-tray` executable, unpacked from its tarball."""
    build("tray")
    return unpack("nodekeeper-tray", tmp_path_factory.mktemp("tray-bundle"))


@pytest.fixture(scope="session")
def deb_package() -> Path:
    if shutil.which("dpkg-buildpackage") is None:
        pytest.skip("dpkg-buildpackage is not installed (scripts/setup installs it as root)")
    build("deb")
    debs = sorted((REPO / "dist").glob("nodekeeper_*.deb"))
    assert len(debs) == 1, f"expected one .deb in dist/, found {debs}"
    return debs[0]
