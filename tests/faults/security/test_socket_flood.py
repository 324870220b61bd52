"""A read-only local user floods the control socket while the node keeps crashing.

The core runs with the distribution's usual soft open-file limit (1,024);
a second user, allowed to connect (the operator opened the socket to
everyone), opens more connections than that and keeps reconnecting. The
node is killed again and again meanwhile: it must come back within its
restart bound, root's ``status`` must answer within a second, and once the
flood ends the core's open files must be back where they were.
"""

from __future__ import annotations

import os
import pwd
import resource
import signal
import time
from pathlib import Path

import pytest

from nodekeeper.core.ipc.client import Client
from tests.fixtures.local_users import needs_root, popen_as
from tests.helpers import CoreHarness, wait_until

pytestmark = [*needs_root, pytest.mark.slow]

FLOOD_SECONDS = 15
FLOOD = """
import os, resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
path, seconds, most = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
opened, held, end = 0, [], time.monotonic() + seconds
while time.monotonic() < end:
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.setblocking(False)
        sock.connect(path)
    except BlockingIOError:  # the backlog is full: the core is not accepting
        sock.close()
        time.sleep(0.01)
        continue
    except OSError:
        sock.close()
        time.sleep(0.01)
        continue
    opened += 1
    held.append(sock)
    if len(held) > most:
        held.pop(0).close()
print(opened, flush=True)
"""


def core_fds(core: CoreHarness) -> int:
    assert core.process is not None
    return len(os.listdir(f"/proc/{core.process.pid}/fd"))


def timed_status(socket_path: Path) -> float:
    started = time.monotonic()
    with Client(str(socket_path), timeout=5) as client:
        assert client.call("status")["node"]["state"] in ("running", "starting", "backoff")
    return time.monotonic() - started


def test_flood_by_a_read_only_user_leaves_root_and_supervision_unharmed(
    core: CoreHarness, other_user: pwd.struct_passwd, shared_dir: Path
) -> None:
    sock = shared_dir / "core.sock"
    core.extra["paths"] = {"socket": str(sock)}
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    try:
        core.start()  # inherits the usual 1,024 soft limit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    sock.chmod(0o666)  # an operator who opened the socket to everyone
    timed_status(sock)
    baseline = core_fds(core)

    flooder = popen_as(other_user, "-c", FLOOD, str(sock), str(FLOOD_SECONDS), "1200")
    try:
        time.sleep(2)  # let the flood fill whatever it can
        answers, most_fds = [], 0
        for _ in range(3):
            before = core.node_status()
            os.kill(before["pid"], signal.SIGKILL)
            killed = time.monotonic()
            while time.monotonic() - killed < 3:
                answers.append(timed_status(sock))
                most_fds = max(most_fds, core_fds(core))
                time.sleep(0.2)
            # restart_delay_max is 2 s; starting the demo node takes well under 5 s more.
            wait_until(
                lambda before=before: (
                    (node := core.node_status())["state"] == "running"
                    and node["pid"] != before["pid"]
                ),
                max(0.5, 7 - (time.monotonic() - killed)),
                "the node restarted within its bound",
            )
        out, err = flooder.communicate(timeout=FLOOD_SECONDS + 30)
    finally:
        if flooder.poll() is None:
            flooder.kill()
            flooder.wait()
    assert flooder.returncode == 0, err
    assert int(out) > 1200, "the flood did not reach its size"
    assert max(answers) < 1.0, f"root's status took {max(answers):.2f}s during the flood"
    # A read-only user holds at most its own few places, never the core's open files.
    assert most_fds < baseline + 64, f"{most_fds} open files during the flood (baseline {baseline})"
    assert core.process is not None and core.process.poll() is None, "the core died"
    wait_until(lambda: core_fds(core) <= baseline, 20, f"core fds back to {baseline}")
