"""The whole demo runs under two of the unit's kernel-enforced limits, venv and bundle alike.

systemd is not needed: the test sets what ``NoNewPrivileges=yes`` and
``MemoryDenyWriteExecute=yes`` set (``PR_SET_NO_NEW_PRIVS``, and the
kernel's ``PR_SET_MDWE`` that systemd also uses where it exists) before
starting the demo, so the core, the publisher tools (TUF, PyNaCl,
cryptography) and the node all run under them.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1

_libc = ctypes.CDLL(None, use_errno=True)


def lock_down() -> None:
    """In the child before exec: no new privileges, no memory made writable and executable."""
    for option, value in ((PR_SET_NO_NEW_PRIVS, 1), (PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN)):
        if _libc.prctl(option, value, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl({option})")


def mdwe_supported() -> bool:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ctypes, sys; sys.exit(ctypes.CDLL(None).prctl(66, 0, 0, 0, 0) < 0)",
        ],
        check=False,
    )
    return probe.returncode == 0  # PR_GET_MDWE answers: the kernel knows MDWE


needs_mdwe = pytest.mark.skipif(not mdwe_supported(), reason="kernel without PR_SET_MDWE")


def run_demo(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*argv, "demo"],
        preexec_fn=lock_down,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )


def assert_whole_story(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    for step in ("node now runs v1.1.0", "1.2.0 quarantined", "demo complete"):
        assert step in done.stdout, done.stdout


@pytest.mark.slow
@needs_mdwe
def test_demo_from_the_venv_runs_without_new_privileges_or_writable_code() -> None:
    assert_whole_story(run_demo([sys.executable, "-m", "nodekeeper.core"]))


@pytest.mark.slow
@needs_mdwe
def test_demo_from_the_bundle_runs_without_new_privileges_or_writable_code(
    core_bundle: Path,
) -> None:
    assert_whole_story(run_demo([str(core_bundle)]))
