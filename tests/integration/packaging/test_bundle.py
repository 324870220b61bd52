"""The self-contained bundle runs with no Python on the host."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nodekeeper.core.platform.ids import platform_id
from tests.helpers import REPO

# Everything that could lend the bundle a Python: the system's, pyenv's, this
# checkout's venv and sources. Each one that exists is covered by an empty tmpfs.
HIDDEN = [
    "/usr/lib/python3",
    f"/usr/lib/python3.{sys.version_info.minor}",
    f"/usr/local/lib/python3.{sys.version_info.minor}",
    "/root/.pyenv",
    sys.prefix,
    sys.base_prefix,
    str(REPO / ".venv"),
    str(REPO / "core"),
    str(REPO / "tray"),
]

HIDE_AND_RUN = """\
set -e
for dir in "$@"; do
  [ "$dir" = -- ] && break
  [ -d "$dir" ] && mount -t tmpfs -o size=1m,mode=0755 nodekeeper-hidden "$dir"
done
while [ "$1" != -- ]; do shift; done
shift
if python3 -c 'import sys' 2>/dev/null || python -c 'import sys' 2>/dev/null; then
  echo "a Python interpreter is still usable" >&2
  exit 99
fi
if [ -e "$NK_HIDDEN_PROBE" ]; then
  echo "$NK_HIDDEN_PROBE is still visible" >&2
  exit 98
fi
exec "$@"
"""

needs_namespaces = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="hiding Python needs root and unshare(1) for a mount namespace",
)


def run_hidden(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a mount namespace where no Python interpreter is usable."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "NK_HIDDEN_PROBE": str(REPO / "core" / "__init__.py"),
    }
    return subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            HIDE_AND_RUN,
            "hide",
            *dict.fromkeys(HIDDEN),
            "--",
            *argv,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_bundle_reports_its_version(core_bundle: Path) -> None:
    done = subprocess.run(
        [str(core_bundle), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    from nodekeeper.core import __version__

    assert done.stdout.strip() == f"nodekeeper {__version__}"


def test_bundle_carries_no_qt(core_bundle: Path) -> None:
    names = [p.name for p in core_bundle.parent.rglob("*")]
    assert not [n for n in names if "PySide6" in n or n.startswith("libQt")]


@pytest.mark.slow
@pytest.mark.root
@needs_namespaces
def test_python_is_really_hidden_in_the_namespace() -> None:
    done = run_hidden(["sh", "-c", "python3 -c 'print(1)'"], timeout=60)
    assert done.returncode != 0
    assert "1" not in done.stdout


@pytest.mark.slow
@pytest.mark.root
@needs_namespaces
def test_whole_demo_runs_from_the_bundle_without_python(core_bundle: Path) -> None:
    done = run_hidden([str(core_bundle), "demo"], timeout=300)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    out = done.stdout
    assert "CHANGED" not in out, out  # the node kept its pid through both core switches
    for step in (
        "node v1.0.0 running",
        "restarted as pid",
        "unresponsive node replaced",
        "node now runs v1.1.0",
        "rolled back to v1.1.0, 1.2.0 quarantined",
        # The core updates itself to a restamped copy of this very bundle, node kept…
        "(this bundle, restamped) on the signed 'nodekeeper' channel",
        "the core replaced itself with",
        # …and a broken core build is rolled back, node still kept.
        "and quarantined (the new core stopped before it was committed); node pid",
        "core exited with code 0; node state: stopped",
        "demo complete",
    ):
        assert step in out, f"demo step {step!r} missing:\n{out}\n{done.stderr}"


@pytest.mark.slow
@needs_namespaces
def test_bad_config_from_the_bundle_is_one_line(core_bundle: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('instance = "x"\n[node]\ncommand = 3\n')
    done = run_hidden([str(core_bundle), "run", "--config", str(config)], timeout=60)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@needs_namespaces
def test_tray_bundle_starts_without_python_and_carries_its_icons(tray_bundle: Path) -> None:
    # --version: the tray program loads (Qt included) without needing a display.
    done = run_hidden([str(tray_bundle), "--version"], timeout=120)
    assert done.returncode == 0, done.stderr
    from nodekeeper.core import __version__

    assert done.stdout.strip() == f"nodekeeper-tray {__version__}"
    icons = tray_bundle.parent / "_internal" / "share" / "nodekeeper" / "icons"
    assert list(icons.glob("*.svg")) and list((icons / "png").glob("*.png"))


def test_core_bundle_is_a_self_update_bundle(core_bundle: Path, tmp_path: Path) -> None:
    """The tarball carries nodekeeper-bundle.json and installs into the core's store."""
    from nodekeeper.core import __version__
    from nodekeeper.core.selfupdate.manifest import manifest_in_archive
    from nodekeeper.core.selfupdate.store import CoreStore
    from tests.integration.packaging.conftest import tarball

    archive = tarball("nodekeeper")
    manifest = manifest_in_archive(archive)
    assert (manifest.name, manifest.version) == ("nodekeeper", __version__)
    assert (manifest.platform, manifest.entry) == (platform_id(), "nodekeeper")
    store = CoreStore(tmp_path / "data")
    store.install_archive(__version__, archive)
    done = subprocess.run(
        [str(store.executable(__version__)), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == f"nodekeeper {__version__}", done.stderr
