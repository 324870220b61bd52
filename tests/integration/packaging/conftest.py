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


def core_tarball() -> Path:
    tarballs = sorted((REPO / "dist").glob("nodekeeper-*.tar.gz"))
    tarballs = [t for t in tarballs if not t.name.startswith("nodekeeper-tray-")]
    assert len(tarballs) == 1, f"expected one core bundle in dist/, found {tarballs}"
    return tarballs[0]


@pytest.fixture(scope="session")
def core_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The core bundle's `nodekeeper` executable, unpacked from its tarball."""
    build("core")
    tarball = core_tarball()
    into = tmp_path_factory.mktemp("bundle")
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="tar")
    top = into / tarball.name.removesuffix(".tar.gz")
    executable = top / "nodekeeper"
    assert executable.is_file(), f"{tarball.name} has no {top.name}/nodekeeper"
    return executable


@pytest.fixture(scope="session")
def deb_package() -> Path:
    if shutil.which("dpkg-buildpackage") is None:
        pytest.skip("dpkg-buildpackage is not installed (scripts/setup installs it as root)")
    build("deb")
    debs = sorted((REPO / "dist").glob("nodekeeper_*.deb"))
    assert len(debs) == 1, f"expected one .deb in dist/, found {debs}"
    return debs[0]
