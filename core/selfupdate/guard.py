"""The probation guard: kills a new core that hangs before it commits.

Started by the core that hands over, just before it exec's the new core
(core/commands/run.py), as a small process of its own that outlives the
exec. It watches state.json: once ``self_update.trying`` no longer names the
new version (committed, or rolled back) it exits. If the bound passes first,
the new core is stuck (it would otherwise exit and be rolled back by the
launcher step), so the guard kills it with SIGKILL; the service manager then
starts the packaged core, which rolls back and takes the node over.
Under systemd, ``WatchdogSec`` does the same for a core hung later on.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence

POLL_INTERVAL = 0.5
CREATE_TIME_TOLERANCE = 0.05


def _still_trying(state_file: str, version: str) -> bool:
    try:
        with open(state_file, encoding="utf-8") as file:
            state = json.load(file)
    except (OSError, ValueError):
        return True  # mid-write or unreadable: nothing settled yet
    trying = (state.get("self_update") or {}).get("trying") if isinstance(state, dict) else None
    return isinstance(trying, dict) and trying.get("version") == version


def _same_process(pid: int, create_time: float) -> bool:
    import psutil

    try:
        return abs(psutil.Process(pid).create_time() - create_time) <= CREATE_TIME_TOLERANCE
    except psutil.NoSuchProcess:
        return False


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="nodekeeper-probation-guard")
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--create-time", type=float, required=True)
    parser.add_argument("--state-file", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--within", type=float, required=True, help="seconds")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.within
    while time.monotonic() < deadline:
        if not _still_trying(args.state_file, args.version):
            return 0
        if not _same_process(args.pid, args.create_time):
            return 0  # the new core died: the service manager and the launcher step take over
        time.sleep(POLL_INTERVAL)
    if _still_trying(args.state_file, args.version) and _same_process(args.pid, args.create_time):
        print(
            f"nodekeeper: core {args.version} (pid {args.pid}) did not commit within "
            f"{args.within:g}s of the switch; killing it so that the previous core comes back",
            file=sys.stderr,
            flush=True,
        )
        os.kill(args.pid, getattr(signal, "SIGKILL", signal.SIGTERM))  # Windows: terminates
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
