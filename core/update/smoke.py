"""Asking a node binary which version it is (`{binary} version`).

Used to detect the version of an adopted ``initial_binary`` and, before a
switch, as the smoke test of a new version: the binary must start, answer
within a timeout and report exactly the version it was published as.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from nodekeeper.core.errors import OperationFailed

_VERSION_LINE = re.compile(rb"^\s*Version:\s*v?(\S+)\s*$", re.MULTILINE)


class SmokeTestFailed(OperationFailed):
    pass


def parse_version_output(output: bytes) -> str | None:
    match = _VERSION_LINE.search(output)
    return match.group(1).decode("ascii", "replace") if match else None


def read_version(binary: Path, timeout: float = 15.0) -> str:
    """Run ``binary version`` and return the version it reports (without a leading v)."""
    try:
        done = subprocess.run(
            [str(binary), "version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SmokeTestFailed(f"{binary} version: no answer within {timeout:g}s") from None
    except OSError as exc:
        raise SmokeTestFailed(f"{binary} version: cannot run it: {exc.strerror or exc}") from None
    version = parse_version_output(done.stdout + b"\n" + done.stderr)
    if done.returncode != 0 or version is None:
        raise SmokeTestFailed(
            f"{binary} version: exit code {done.returncode}, no 'Version: vX.Y.Z' line in its output"
        )
    return version


def smoke_test(binary: Path, expected: str, timeout: float = 15.0) -> None:
    reported = read_version(binary, timeout)
    if reported.lstrip("v") != expected.lstrip("v"):
        raise SmokeTestFailed(f"{binary} reports version {reported}, expected {expected}")
