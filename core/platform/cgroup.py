"""Memory and CPU limits through Linux control groups (v2 or v1).

The node is moved into ``nodekeeper/<instance>`` below the cgroup root by
the child itself, between fork and exec, so that nothing it forks can
escape the limit. When no writable cgroup hierarchy with the needed
controllers exists (containers, non-root cores), :func:`prepare` returns
None and the supervisor falls back to its memory watchdog.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

_log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class CgroupPlan:
    """The files a child writes its pid to, and the version that was used."""

    procs_files: tuple[str, ...]
    version: int


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def cpu_quota_us(cpu_max: float) -> int:
    return max(1000, round(cpu_max * CPU_PERIOD_US))


def _prepare_v2(root: Path, name: str, memory_max: int | None, cpu_max: float | None) -> CgroupPlan:
    parent = root / "nodekeeper"
    parent.mkdir(exist_ok=True)
    wanted = [c for c, v in (("memory", memory_max), ("cpu", cpu_max)) if v is not None]
    _write(root / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
    _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
    group = parent / name
    group.mkdir(exist_ok=True)
    _write(group / "memory.max", str(memory_max) if memory_max is not None else "max")
    if cpu_max is not None:
        _write(group / "cpu.max", f"{cpu_quota_us(cpu_max)} {CPU_PERIOD_US}")
    return CgroupPlan((str(group / "cgroup.procs"),), 2)


def _prepare_v1(root: Path, name: str, memory_max: int | None, cpu_max: float | None) -> CgroupPlan:
    procs: list[str] = []
    if memory_max is not None:
        group = root / "memory" / "nodekeeper" / name
        group.mkdir(parents=True, exist_ok=True)
        _write(group / "memory.limit_in_bytes", str(memory_max))
        procs.append(str(group / "cgroup.procs"))
    if cpu_max is not None:
        group = root / "cpu" / "nodekeeper" / name
        group.mkdir(parents=True, exist_ok=True)
        _write(group / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write(group / "cpu.cfs_quota_us", str(cpu_quota_us(cpu_max)))
        procs.append(str(group / "cgroup.procs"))
    return CgroupPlan(tuple(procs), 1)


def prepare(
    name: str, memory_max: int | None, cpu_max: float | None, root: Path = CGROUP_ROOT
) -> CgroupPlan | None:
    """Create or update the node's cgroup; None when cgroups cannot be used here."""
    if memory_max is None and cpu_max is None:
        return None
    try:
        if (root / "cgroup.controllers").exists():
            available = (root / "cgroup.controllers").read_text().split()
            if all(c in available for c, v in (("memory", memory_max), ("cpu", cpu_max)) if v):
                return _prepare_v2(root, name, memory_max, cpu_max)
            return None
        if (root / "memory").is_dir() or (root / "cpu").is_dir():
            return _prepare_v1(root, name, memory_max, cpu_max)
    except OSError as exc:
        _log.info("cgroup limits unavailable (%s); using the memory watchdog", exc)
    return None


def join_in_child(plan: CgroupPlan) -> None:
    """Move the calling process into the plan's cgroups. Runs between fork and exec:
    only raw os calls, no allocation-heavy Python."""
    pid = str(os.getpid()).encode()
    for path in plan.procs_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)
