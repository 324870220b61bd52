"""The data a service plan is made of: what to write, what to run.

Plain frozen dataclasses shared by the per-OS builders and the code that
carries a plan out; nothing here does I/O.
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from dataclasses import dataclass

# The service manager's stop timeout is the node's plus this, so the core
# always gets to stop the node itself before anything is killed.
STOP_MARGIN_S = 15.0


@dataclass(frozen=True)
class ServiceSpec:
    """Everything a service definition needs, already resolved to absolute paths."""

    instance: str
    config_path: str
    # argv that starts the `nodekeeper` command: its executable, or python -m nodekeeper.core.
    core_command: tuple[str, ...]
    # argv that starts the tray; None when the tray is not installed.
    tray_command: tuple[str, ...] | None
    stop_timeout: float
    memory_max: int | None
    cpu_max: float | None
    nice: int | None
    logs_dir: str
    data_dir: str
    # Also written by the core or the node: the socket's folder, the node's workdir.
    socket_path: str = ""
    node_workdir: str | None = None
    # The unprivileged user the core runs as (systemd).
    user: str = "nodekeeper"
    # One core process serving more instances (docs/instances.md): their names,
    # config files, and the folders they write.
    more_instances: tuple[str, ...] = ()
    more_configs: tuple[str, ...] = ()
    more_writable: tuple[str, ...] = ()

    @property
    def run_command(self) -> tuple[str, ...]:
        """The full argv the service manager runs: ``... run --config FILE [--config FILE ...]``."""
        configs = (self.config_path, *self.more_configs)
        return (*self.core_command, "run", *(a for c in configs for a in ("--config", c)))

    def own_folders(self) -> list[str]:
        """The folders this instance's core and node write: data, logs, the socket's, workdir."""
        folders = [self.data_dir, self.logs_dir]
        if self.socket_path.startswith("/"):
            folders.append(posixpath.dirname(self.socket_path))
        if self.node_workdir:
            folders.append(self.node_workdir)
        return folders

    @property
    def stop_timeout_s(self) -> int:
        return int(self.stop_timeout + STOP_MARGIN_S + 0.999)


@dataclass(frozen=True)
class Command:
    """One command to run; ``ok_codes`` None means any exit code is fine (status queries)."""

    argv: tuple[str, ...]
    ok_codes: frozenset[int] | None = frozenset({0})
    # Run only when a file of the same registration was created or changed.
    only_if_changed: bool = False
    # For status queries: show the first output line containing this (None: the first line).
    show_line_with: str | None = None

    def render(self, os_name: str = "linux") -> str:
        """The command as one would type it: Windows command-line rules on Windows, sh elsewhere."""
        if os_name == "windows":
            return subprocess.list2cmdline(self.argv)
        return " ".join(_shell_word(a) for a in self.argv)


@dataclass(frozen=True)
class PlannedFile:
    path: str  # absolute path on the target OS, without any --root prefix
    content: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class Registration:
    """One thing registered with the OS: the core service or the tray's login start."""

    what: str
    files: tuple[PlannedFile, ...] = ()
    install: tuple[Command, ...] = ()  # after the files are written
    uninstall: tuple[Command, ...] = ()  # before the files are removed
    after_uninstall: tuple[Command, ...] = ()  # after the files are removed
    status: tuple[Command, ...] = ()
    # Shared by every instance (the tray): removed only with the last instance.
    shared: bool = False


_PLAIN = re.compile(r"[A-Za-z0-9@%+=:,./_-]+")


def _shell_word(word: str) -> str:
    """Quote a word for display the way a POSIX shell would read it back."""
    if _PLAIN.fullmatch(word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"
