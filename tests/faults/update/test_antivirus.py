"""An on-access anti-virus scanner that interferes with a new version, against a real core.

The scanner is a thread of the test that works the way Linux on-access
scanners do: fanotify permission events on the data dir's mount (a tmpfs
of the test), so the kernel makes the core wait for the scanner's verdict
and no timing race decides whether it acts. It interferes with the new
version's first ``spoil`` install attempts (every attempt when None):

* ``delete``: quarantines ``storagenode`` when the core runs it (deletes
  the file, denies the exec);
* ``strip-exec``: clears its executable bits when the core runs it (and
  denies that exec, which the kernel had already allowed);
* ``lock-rename``: while the core opens the downloaded archive to unpack
  it, locks the ``versions/`` folder (``chattr +i``) for a moment, so the
  rename of ``<v>.tmp`` into place is refused, as a scan's open handles
  refuse it on Windows.

A scanner that keeps doing this must make the core retry with backoff
(``INSTALL_RETRY_DELAYS``: 1 s, 3 s, 10 s) and then give up cleanly: one
line in ``updates.last_error``, an ``update-failed`` event, neither
``versions/1.1.0`` nor ``versions/1.1.0.tmp`` left, and the old node still
running with the same pid. A scanner that interferes once must only
delay the update.
"""

from __future__ import annotations

import array
import ctypes
import ctypes.util
import fcntl
import os
import select
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nodekeeper.core.demo.package import build_release_binary
from nodekeeper.core.update.install import INSTALL_RETRY_DELAYS
from tests.faults.update.support import (
    MIN_FREE,
    EventRecorder,
    socket_status,
    tmpfs_data_dir,  # noqa: F401  (fixture)
)
from tests.fixtures.nginx import NginxServer
from tests.helpers import CoreHarness
from tests.integration.update.release_repo import (
    ReleaseRepo,
    check,
    configure_updates,
    wait_version,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fanotify and chattr are Linux's")

NEW = "1.1.0"
BINARY = "storagenode"

# -- the scanner's tools: fanotify and the immutable flag ------------------------

FAN_CLOEXEC = 0x01
FAN_NONBLOCK = 0x02
FAN_CLASS_CONTENT = 0x04
FAN_MARK_ADD = 0x01
FAN_MARK_MOUNT = 0x10
FAN_OPEN_PERM = 0x00010000
FAN_OPEN_EXEC_PERM = 0x00040000
FAN_ALLOW = 0x01
FAN_DENY = 0x02
AT_FDCWD = -100
_METADATA = struct.Struct("IBBHQii")  # event_len, vers, reserved, metadata_len, mask, fd, pid
_RESPONSE = struct.Struct("iI")  # fd, response

FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x00000010


def set_immutable(path: Path, on: bool) -> None:
    """``chattr +i`` / ``chattr -i`` on a folder, without spawning a process."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        flags[0] = flags[0] | FS_IMMUTABLE_FL if on else flags[0] & ~FS_IMMUTABLE_FL
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags, True)
    finally:
        os.close(fd)


def fanotify(mount_point: Path, mask: int) -> int:
    """A fanotify group that gets ``mask`` permission events for every file on the mount."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.fanotify_mark.argtypes = [
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint64,
        ctypes.c_int,
        ctypes.c_char_p,
    ]
    fd = int(
        libc.fanotify_init(
            FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, os.O_RDONLY | os.O_LARGEFILE
        )
    )
    if fd < 0:
        raise OSError(ctypes.get_errno(), "fanotify_init failed")
    marked = libc.fanotify_mark(
        fd, FAN_MARK_ADD | FAN_MARK_MOUNT, mask, AT_FDCWD, os.fsencode(mount_point)
    )
    if marked != 0:
        os.close(fd)
        raise OSError(ctypes.get_errno(), f"cannot watch the mount of {mount_point}")
    return fd


class AntiVirus(threading.Thread):
    """Interferes with the new version's first ``spoil`` install attempts (None: all of them).

    Every permission event is answered, whatever happens: an unanswered one
    would stall the core (closing the group answers the rest with "allow").
    Only folders are opened here, and folder opens raise no event, so the
    scanner never waits for itself.
    """

    HOLD = 0.6  # seconds a scan holds versions/ (less than the shortest retry delay)

    def __init__(self, data_dir: Path, action: str, spoil: int | None) -> None:
        super().__init__(daemon=True)
        self.versions = data_dir / "versions"
        self.action = action
        self.spoil = spoil
        self.spoiled: list[float] = []  # monotonic times it interfered: one per install attempt
        self.let_through: list[float] = []  # ... and times it let the new version be
        self.errors: list[str] = []
        mask = FAN_OPEN_PERM if action == "lock-rename" else FAN_OPEN_EXEC_PERM
        self._fd: int | None = fanotify(data_dir, mask)
        self._locked_until: float | None = None
        self._done = threading.Event()

    def run(self) -> None:
        assert self._fd is not None
        while not self._done.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.01)
            if ready:
                self._answer_events(self._fd)
            if self._locked_until is not None and time.monotonic() >= self._locked_until:
                self._unlock()

    def _answer_events(self, fan_fd: int) -> None:
        try:
            data = os.read(fan_fd, 64 * 1024)
        except BlockingIOError:
            return
        offset = 0
        while offset < len(data):
            length, _vers, _res, _meta, mask, fd, _pid = _METADATA.unpack_from(data, offset)
            offset += length
            if fd < 0:
                continue
            verdict = FAN_ALLOW
            try:
                verdict = self._judge(mask, os.readlink(f"/proc/self/fd/{fd}"))
            except Exception as exc:  # reported by the test, never lost in a thread
                self.errors.append(repr(exc))
            finally:
                os.write(fan_fd, _RESPONSE.pack(fd, verdict))
                os.close(fd)

    def _spoiling(self) -> bool:
        return self.spoil is None or len(self.spoiled) < self.spoil

    def _judge(self, mask: int, path: str) -> int:
        if self.action == "lock-rename":
            # The downloaded archive opened for unpacking, its staging folder in place.
            unpacking = path.endswith(".zip") and (self.versions / f"{NEW}.tmp").is_dir()
            if not unpacking:
                return FAN_ALLOW
            if self._spoiling():
                self.spoiled.append(time.monotonic())
                set_immutable(self.versions, True)
                self._locked_until = time.monotonic() + self.HOLD
            else:
                self.let_through.append(time.monotonic())
            return FAN_ALLOW
        folder, _, name = path.rpartition("/")
        if name != BINARY or not folder.startswith(str(self.versions / NEW)):
            return FAN_ALLOW  # the running version, restarted
        if not self._spoiling():
            self.let_through.append(time.monotonic())
            return FAN_ALLOW
        self.spoiled.append(time.monotonic())
        if self.action == "delete":
            os.unlink(path)
        else:
            os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) & ~0o111)
        return FAN_DENY

    def _unlock(self) -> None:
        if self._locked_until is not None:
            self._locked_until = None
            set_immutable(self.versions, False)

    def stop(self) -> None:
        self._done.set()
        if self.is_alive():
            self.join(5)
        if self._fd is not None:
            os.close(self._fd)  # answers anything still pending with "allow"
            self._fd = None
        set_immutable(self.versions, False)  # whatever happened, leave the folder usable


def leftovers(versions: Path) -> list[str]:
    return sorted(p.name for p in versions.iterdir() if p.name != "1.0.0")


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> ReleaseRepo:
    repo = ReleaseRepo(tmp_path)
    repo.publish("1.0.0")
    repo.publish(NEW)
    repo.channel("--minimum", "1.0.0", "--suggested", "1.0.0", "--rollout", "100")
    return repo


@pytest.fixture
def updating(
    core: CoreHarness,
    repo: ReleaseRepo,
    nginx: Callable[[Path], NginxServer],
    request: pytest.FixtureRequest,
) -> Iterator[CoreHarness]:
    """A core on 1.0.0 whose data dir is a mount of its own, for the scanner to watch."""
    request.getfixturevalue("tmpfs_data_dir")
    server = nginx(repo.dir)
    configure_updates(core, repo, server.url, probation="1s", min_free_space=MIN_FREE)
    core.start()
    wait_version(core, "1.0.0")
    yield core


@pytest.fixture
def scanner(updating: CoreHarness) -> Iterator[Callable[[str, int | None], AntiVirus]]:
    versions = updating.data_dir / "versions"
    try:
        set_immutable(versions, True)
        set_immutable(versions, False)
    except OSError as exc:
        pytest.skip(f"cannot set the immutable flag on {versions}: {exc.strerror}")
    started: list[AntiVirus] = []

    def start(action: str, spoil: int | None) -> AntiVirus:
        try:
            scanner = AntiVirus(updating.data_dir, action, spoil)
        except OSError as exc:
            pytest.skip(f"fanotify permission events are not available: {exc}")
        scanner.start()
        started.append(scanner)
        return scanner

    try:
        yield start
    finally:
        for scanner in started:
            scanner.stop()


ACTIONS = ["delete", "strip-exec", "lock-rename"]
# What the core reports: the exec or the rename refused.
PROBLEMS = {
    "delete": "cannot run it: Operation not permitted",
    "strip-exec": "cannot run it: Operation not permitted",
    "lock-rename": f"Operation not permitted ({{versions}}/{NEW}.tmp)",
}


@pytest.mark.slow
@pytest.mark.parametrize("action", ACTIONS)
def test_a_scanner_that_keeps_interfering_makes_the_update_give_up_cleanly(
    updating: CoreHarness,
    repo: ReleaseRepo,
    scanner: Callable[[str, int | None], AntiVirus],
    action: str,
) -> None:
    before = socket_status(updating)["node"]
    events = EventRecorder(updating.socket_path)
    av = scanner(action, None)
    repo.channel("--suggested", NEW)

    decision = check(updating)
    assert decision["action"] == "update" and decision["target"] == NEW

    budget = sum(INSTALL_RETRY_DELAYS) + 30
    failed = events.wait_for("update-failed", budget)
    assert av.errors == []
    status = socket_status(updating)
    error = status["updates"]["last_error"]
    assert isinstance(error, str) and "\n" not in error
    assert f"installing {NEW} failed {len(INSTALL_RETRY_DELAYS) + 1} times" in error
    versions = updating.data_dir / "versions"
    assert PROBLEMS[action].format(versions=versions) in error, error
    assert failed["version"] == NEW and error in failed.values()

    # Retried with the backoff: the scanner met one attempt after each delay.
    assert len(av.spoiled) == len(INSTALL_RETRY_DELAYS) + 1, av.spoiled
    gaps = [b - a for a, b in zip(av.spoiled, av.spoiled[1:], strict=False)]
    for gap, delay in zip(gaps, INSTALL_RETRY_DELAYS, strict=True):
        assert gap >= delay
    shown = ", ".join(f"+{t - av.spoiled[0]:.2f}s" for t in av.spoiled)
    print(f"\n{action}: install attempts met by the scanner at {shown}")
    assert av.let_through == []

    # Nothing half-installed, and the old node never noticed.
    assert leftovers(versions) == []
    node = status["node"]
    assert (node["pid"], node["version"], node["state"]) == (before["pid"], "1.0.0", "running")
    assert node["healthy"] and node["restarts"] == before["restarts"]
    assert status["updates"]["pending"] is None
    assert status["updates"]["state"] == "error"
    assert "update-installed" not in events.kinds() and "node-exited" not in events.kinds()
    assert updating.node_pids() == [before["pid"]]
    events.close()


@pytest.mark.slow
@pytest.mark.parametrize("action", ACTIONS)
def test_a_scanner_that_interferes_once_only_delays_the_update(
    updating: CoreHarness,
    repo: ReleaseRepo,
    scanner: Callable[[str, int | None], AntiVirus],
    action: str,
) -> None:
    events = EventRecorder(updating.socket_path)
    av = scanner(action, 1)
    repo.channel("--suggested", NEW)

    assert check(updating)["target"] == NEW
    status = wait_version(updating, NEW, timeout=40)
    assert av.errors == []
    assert len(av.spoiled) == 1 and av.let_through, (av.spoiled, av.let_through)
    assert av.let_through[0] - av.spoiled[0] >= INSTALL_RETRY_DELAYS[0]
    assert status["updates"]["previous"] == "1.0.0"
    assert sorted(p.name for p in (updating.data_dir / "versions").iterdir()) == ["1.0.0", NEW]
    events.wait_for("update-installed", 10)
    assert "update-failed" not in events.kinds()
    events.close()


@pytest.mark.slow
def test_an_installed_version_made_non_executable_later_is_installed_afresh(
    updating: CoreHarness, repo: ReleaseRepo
) -> None:
    # 1.1.0 was installed earlier (then left, e.g. after a rollback) and a scanner
    # has since cleared its executable bits.
    broken = build_release_binary(NEW, updating.data_dir / "versions" / NEW / BINARY)
    broken.chmod(0o644)
    before = socket_status(updating)["node"]
    events = EventRecorder(updating.socket_path)
    repo.channel("--suggested", NEW)

    assert check(updating)["target"] == NEW
    failed = events.wait_for("update-failed", 20)
    error = socket_status(updating)["updates"]["last_error"]
    assert "Permission denied" in error and error in failed.values()
    assert socket_status(updating)["node"]["pid"] == before["pid"]
    assert leftovers(updating.data_dir / "versions") == []  # not kept as "installed"

    # The next check downloads and installs it again instead of failing forever.
    assert check(updating)["target"] == NEW
    wait_version(updating, NEW, timeout=30)
    assert os.access(updating.data_dir / "versions" / NEW / BINARY, os.X_OK)
    events.close()
