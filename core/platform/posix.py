"""Process control on Linux and macOS.

The node runs in a new session (its own process group). It outlives a
core that dies: the next core finds it through the pid file and takes it
over with its pipes (Linux, core/platform/pipes.py), or stops it with
everything of its process group before starting a new one
(core/supervise/stopping.py). Never two nodes: only one core at a time
holds the data dir lock, each one settles what the previous one left
before it starts anything, and a node only runs once its pid is on record
(the start barrier, core/supervise/spawn.py). Under systemd the unit's KillMode stops the
whole group with the service.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from nodekeeper.core.config import LimitsConfig
from nodekeeper.core.config.program import program_problem
from nodekeeper.core.errors import AlreadyRunning
from nodekeeper.core.platform import cgroup
from nodekeeper.core.platform.base import (
    DataDirLock,
    Platform,
    ProcessIdentity,
    ProcessStatus,
    SpawnRequest,
)

# current_platform() imports this module only off Windows; the assert also
# tells `mypy --platform win32` that nothing below runs there.
assert sys.platform != "win32", "nodekeeper.core.platform.posix is not for Windows"


def _account_ids(
    user: str | None, group: str | None
) -> tuple[int | None, int | None, list[int] | None]:
    """uid, gid and supplementary groups for ``node.user``/``node.group`` (None: the core's).

    Looked up at every start, so that a change of the account's groups takes
    effect at the next restart. A user without ``node.group`` runs with its
    primary group.
    """
    import grp
    import pwd

    gid = grp.getgrnam(group).gr_gid if group else None
    if user is None:
        return None, gid, None
    account = pwd.getpwnam(user)
    gid = account.pw_gid if gid is None else gid
    return account.pw_uid, gid, os.getgrouplist(user, gid)


# The node's first moments with a start barrier: wait for the core's go (its stdin),
# give up if the core died before it (EOF), then become the node with stdin /dev/null.
WAIT_FOR_GO = ("/bin/sh", "-c", 'read -r go || exit 71; exec "$@" </dev/null')


def _inherited_lock(lock_path: Path, inherited: str | None) -> int | None:
    """The fd of ``lock_path`` that the exec'ing core held, or None if none is.

    ``inherited`` lists fds, comma-separated: a core process serving several
    instances passes every data dir's lock on (core/instances.py). flock
    belongs to the open file, which the exec kept: locking it again through
    the same fd succeeds at once, and no other core got in between.
    """
    try:
        on_disk = os.stat(lock_path)
    except OSError:
        return None
    for word in (inherited or "").split(","):
        if not word.isdigit():
            continue
        fd = int(word)
        try:
            held = os.fstat(fd)
        except OSError:
            continue
        if (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino):
            os.set_inheritable(fd, False)
            return fd
    return None


class _FlockLock(DataDirLock):
    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def fd(self) -> int | None:
        return self._fd


class PosixPlatform(Platform):
    name = "posix"

    def __init__(self) -> None:
        self._cgroup_plan: cgroup.CgroupPlan | None = None
        self._cgroup_key: tuple[str, int | None, float | None] | None = None

    # -- starting -------------------------------------------------------------

    @staticmethod
    def under_systemd_unit() -> bool:
        """Started by a systemd unit (``nodekeeper service install`` writes the limits
        into it): the node stays in the unit's cgroup, where the unit's MemoryMax=/
        CPUQuota= cover it and its KillMode reaches it."""
        return bool(os.environ.get("INVOCATION_ID"))

    def _cgroup_for(self, name: str, limits: LimitsConfig) -> cgroup.CgroupPlan | None:
        key = (name, limits.memory_max, limits.cpu_max)
        if self.under_systemd_unit():
            return None
        if key != self._cgroup_key:
            self._cgroup_plan = cgroup.prepare(name, limits.memory_max, limits.cpu_max)
            self._cgroup_key = key
        return self._cgroup_plan

    def enforced_by(self, limits: LimitsConfig) -> str:
        if limits.memory_max is None and limits.cpu_max is None:
            return "nice" if limits.nice is not None else "none"
        if self.under_systemd_unit():
            return "systemd"
        if self._cgroup_for_status(limits):
            return "cgroup"
        return "watchdog" if limits.memory_max is not None else "none"

    def _cgroup_for_status(self, limits: LimitsConfig) -> bool:
        return (
            self._cgroup_plan is not None
            and self._cgroup_key is not None
            and (self._cgroup_key[1:] == (limits.memory_max, limits.cpu_max))
        )

    def spawn(self, request: SpawnRequest) -> subprocess.Popen[bytes]:
        plan = self._cgroup_for(request.name, request.limits)
        nice = request.limits.nice

        def in_child() -> None:
            # Between fork and exec: raw calls only.
            if nice is not None:
                os.setpriority(os.PRIO_PROCESS, 0, nice)
            if plan is not None:
                cgroup.join_in_child(plan)

        user, group, extra_groups = _account_ids(request.user, request.group)
        argv = list(request.argv)
        stdin: int = subprocess.DEVNULL
        if request.barrier is not None:
            # What exec would have refused, said before the shell stands in for the program.
            problem = program_problem(
                argv[0],
                cwd=request.cwd or Path.cwd(),
                search_path=request.env.get("PATH", os.defpath),
            )
            if problem is not None:
                raise OSError(problem)
            argv = [*WAIT_FOR_GO, argv[0], *argv]
            stdin = request.barrier
        return subprocess.Popen(
            argv,
            user=user,
            group=group,
            extra_groups=extra_groups,
            env=dict(request.env),
            cwd=request.cwd,
            stdin=stdin,
            stdout=request.stdout,
            stderr=request.stderr,
            start_new_session=True,
            preexec_fn=in_child,
            close_fds=True,
            pass_fds=request.keep_fds,
        )

    # -- looking at processes -------------------------------------------------

    def identity(self, pid: int) -> ProcessIdentity | None:
        try:
            proc = psutil.Process(pid)
            return ProcessIdentity(pid, proc.create_time(), os.getpgid(pid))
        except (psutil.NoSuchProcess, ProcessLookupError):
            return None

    def status(self, pid: int) -> ProcessStatus:
        if sys.platform.startswith("linux"):
            return _proc_status(pid)
        try:
            state = psutil.Process(pid).status()
        except psutil.NoSuchProcess:
            return "gone"
        if state == psutil.STATUS_ZOMBIE:
            return "zombie"
        if state in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
            return "stopped"
        return "running"

    def group_members(self, ident: ProcessIdentity) -> list[int]:
        leader = self.identity(ident.pid)
        leader_alive = leader is not None and abs(leader.create_time - ident.create_time) < 0.05
        if leader is not None and not leader_alive:
            # The pid was reused, so the kernel had freed the old group id too:
            # whatever has that group id now is somebody else's.
            return []
        if not leader_alive and not self._group_exists(ident.group):
            return []
        members: list[int] = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(proc.pid) != ident.group:
                    continue
                # A process older than the leader cannot belong to its group.
                if proc.create_time() + 0.01 < ident.create_time:
                    continue
                if proc.status() == psutil.STATUS_ZOMBIE and proc.pid != ident.pid:
                    continue
            except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
                continue
            members.append(proc.pid)
        if not leader_alive:
            return members
        # Descendants that left the group (setsid) still belong to the node.
        try:
            for child in psutil.Process(ident.pid).children(recursive=True):
                if child.pid not in members:
                    members.append(child.pid)
        except psutil.NoSuchProcess:
            pass
        return members

    @staticmethod
    def _group_exists(group: int) -> bool:
        """One syscall instead of a scan of every process: is anyone left in the group?"""
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    # -- stopping -------------------------------------------------------------

    def send_stop(self, ident: ProcessIdentity, signal_name: str) -> None:
        number = signal.Signals[signal_name] if signal_name.startswith("SIG") else signal.SIGTERM
        try:
            os.kill(ident.pid, number)
            # A stopped (SIGSTOP) node cannot act on the signal until continued.
            os.kill(ident.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass

    def kill_tree(self, ident: ProcessIdentity) -> int:
        try:
            members = self.group_members(ident)
        except OSError:  # cannot read /proc (EMFILE, ENOMEM): the group kill below still works
            members = []
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(ident.group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return len(members)

    # -- the data dir lock ----------------------------------------------------

    def lock_data_dir(self, path: Path, inherited: str | None = None) -> DataDirLock:
        lock_path = path / "core.lock"
        fd = _inherited_lock(lock_path, inherited)
        if fd is None:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise AlreadyRunning(
                    f"another nodekeeper core (pid {holder}) is already running for data dir "
                    f"{path}; stop it first (two cores would start two copies of the node)"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return _FlockLock(fd)


def _proc_status(pid: int) -> ProcessStatus:
    """The state letter of ``/proc/<pid>/stat``, read once: this runs at every health
    check, and psutil reads the file twice and builds a process object to say the same."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return "gone"
    try:
        data = os.read(fd, 4096)
    except ProcessLookupError:  # ESRCH: it ended between open and read
        return "gone"
    finally:
        os.close(fd)
    # "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ")".
    after = data.rfind(b")") + 2
    state = data[after : after + 1]
    if state in (b"Z", b"X", b""):
        return "zombie" if state == b"Z" else "gone"
    if state in (b"T", b"t"):
        return "stopped"
    return "running"
