"""Carries a service plan out: writes and removes files, runs commands.

The decisions (what to write, which commands, whether to run them) are made
in :mod:`nodekeeper.core.startup.plan`; this module only does them, through two seams:
the filesystem under a root folder, and a :class:`CommandRunner`. Files are
replaced atomically and rewritten only when their content changed, so a
second install changes nothing and restarts nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nodekeeper.core.fsutil import fsync_dir
from nodekeeper.core.startup.errors import ServiceError
from nodekeeper.core.startup.model import Command, PlannedFile, Registration
from nodekeeper.core.startup.plan import (
    ServicePlan,
    core_file_instance,
    other_instances,
    target_path,
)

COMMAND_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    output: str


class CommandRunner(Protocol):
    def __call__(self, argv: Sequence[str]) -> CommandResult: ...


def run_subprocess(argv: Sequence[str]) -> CommandResult:
    """Run one command of a plan, its output captured."""
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise ServiceError(f"{argv[0]} is not installed here; cannot run `{argv[0]}`") from None
    except subprocess.TimeoutExpired:
        raise ServiceError(
            f"`{' '.join(argv)}` did not finish within {COMMAND_TIMEOUT_S:.0f} s"
        ) from None
    except OSError as exc:
        raise ServiceError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    return CommandResult(done.returncode, (done.stdout + done.stderr).strip())


class Installer:
    """Installs, removes or reports one plan; ``say`` receives one line per thing done."""

    def __init__(
        self,
        plan: ServicePlan,
        *,
        root: Path | None,
        run_commands: bool,
        runner: CommandRunner = run_subprocess,
        say: Callable[[str], None] = print,
        tray_note: str = "",
    ) -> None:
        self.plan = plan
        self.root = root
        self.run_commands = run_commands
        self.runner = runner
        self.say = say
        # Why the tray is left out, when it is installed but was not wanted.
        self.tray_note = tray_note

    # --- actions --------------------------------------------------------------

    def install(self) -> int:
        for registration in self.plan.registrations("install"):
            changed = False
            for planned in registration.files:
                path = self.path_of(planned)
                if _write_if_different(path, planned):
                    changed = True
                    self.say(f"wrote {path}")
                else:
                    self.say(f"unchanged {path}")
            if self.run_commands:
                for command in registration.install:
                    if command.only_if_changed and not changed:
                        continue
                    self._run_checked(command)
        if self.tray_note:
            self.say(self.tray_note)
        elif not self.plan.tray_installable:
            self.say("the tray is not installed here: no login start for it")
        self.say(f"installed {self.plan.service_name}")
        return 0

    def uninstall(self) -> int:
        others = self._other_instances()
        for registration in self.plan.registrations("uninstall"):
            if registration.shared and others:
                self.say(
                    f"kept the {registration.what}: instance(s) {', '.join(others)} still use it"
                )
                continue
            present = self.present(registration)
            if registration.files and not present:
                self.say(f"{registration.what}: not installed")
                continue
            if self.run_commands:
                for command in registration.uninstall:
                    self._run_checked(command)
            for planned in present:
                path = self.path_of(planned)
                _remove(path)
                self.say(f"removed {path}")
                if self.root is not None:
                    _prune_empty_parents(path.parent, self.root)
            if self.run_commands:
                for command in registration.after_uninstall:
                    self._run_checked(command)
        self.say(f"uninstalled {self.plan.service_name}")
        return 0

    def status(self) -> int:
        """0 when the core service is registered, 1 when it is not."""
        core_installed = self._report_files(self.plan.core)
        self._report_files(self.plan.tray)
        if self.run_commands:
            for registration in self.plan.registrations("status"):
                for command in registration.status:
                    result = self.runner(command.argv)
                    line = _pick_line(result.output, command.show_line_with)
                    shown = line or f"exit code {result.returncode}"
                    self.say(f"{command.render(self.plan.os_name)}: {shown}")
                    if not registration.files and registration is self.plan.core:
                        core_installed = result.returncode == 0
        return 0 if core_installed else 1

    def present(self, registration: Registration) -> list[PlannedFile]:
        """The files of ``registration`` that exist now (under --root, when given)."""
        return [planned for planned in registration.files if self.path_of(planned).exists()]

    # --- helpers --------------------------------------------------------------

    def path_of(self, planned: PlannedFile) -> Path:
        """Where ``planned`` is on this machine (under --root, when given)."""
        return Path(target_path(planned.path, None if self.root is None else str(self.root)))

    def _report_files(self, registration: Registration) -> bool:
        installed = bool(registration.files)
        for planned in registration.files:
            path = self.path_of(planned)
            try:
                current = path.read_bytes()
            except FileNotFoundError:
                self.say(f"{registration.what}: not installed ({path} is missing)")
                installed = False
                continue
            except OSError as exc:
                raise ServiceError(f"cannot read {path}: {exc.strerror or exc}") from None
            if current == planned.content:
                self.say(f"{registration.what}: installed ({path})")
            elif written_by_0_1(current):
                self.say(
                    f"{registration.what}: installed ({path}) by nodekeeper 0.1, which ran "
                    "`python -m core`; that module is `nodekeeper.core` since 0.2, so the "
                    "service cannot start: run `nodekeeper service install` again to rewrite it"
                )
            else:
                self.say(
                    f"{registration.what}: installed ({path}), but differs from what "
                    "`nodekeeper service install` writes now: run it again to update"
                )
        return installed

    def _other_instances(self) -> list[str]:
        if not self.plan.core.files:
            return []
        folder = self.path_of(self.plan.core.files[0]).parent
        try:
            names = os.listdir(folder)
        except OSError:
            return []
        return other_instances(self.plan.os_name, _instance_of(self.plan), names)

    def _run_checked(self, command: Command) -> None:
        result = self.runner(command.argv)
        rendered = command.render(self.plan.os_name)
        if command.ok_codes is not None and result.returncode not in command.ok_codes:
            detail = result.output.splitlines()[-1] if result.output else "no output"
            raise ServiceError(f"`{rendered}` failed with exit code {result.returncode}: {detail}")
        self.say(f"ran: {rendered}")


# How 0.1 started the core and the tray from Python: bare top-level packages
# that 0.2 no longer installs (they are nodekeeper.core and nodekeeper.tray).
_OLD_MODULE_ARGS = (b"-m core ", b"-m core\n", b"-m tray.app", b"<string>core</string>")


def written_by_0_1(content: bytes) -> bool:
    """True for a service definition that still runs 0.1's ``python -m core``."""
    return any(marker in content for marker in _OLD_MODULE_ARGS)


def _instance_of(plan: ServicePlan) -> str:
    name = Path(plan.core.files[0].path).name
    return core_file_instance(plan.os_name, name) or ""


def _pick_line(output: str, marker: str | None) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if marker is not None:
        lines = [line for line in lines if marker in line]
    return lines[0] if lines else ""


def _write_if_different(path: Path, planned: PlannedFile) -> bool:
    """Atomically put ``planned`` at ``path``; False when it is already there as planned."""
    try:
        if path.is_file() and path.read_bytes() == planned.content:
            if (path.stat().st_mode & 0o7777) == planned.mode:
                return False
            os.chmod(path, planned.mode)
            return True
        if path.exists() and not path.is_file():
            raise ServiceError(f"cannot write {path}: something other than a file is there")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        temporary = path.with_name(f".{path.name}.nodekeeper-tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, planned.mode)
        try:
            os.write(fd, planned.content)
            if sys.platform != "win32":  # no os.fchmod there before Python 3.13
                os.fchmod(fd, planned.mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        fsync_dir(path.parent, strict=False)
    except PermissionError:
        raise ServiceError(
            f"cannot write {path}: permission denied (run as root, or use --root DIR)"
        ) from None
    except OSError as exc:
        raise ServiceError(f"cannot write {path}: {exc.strerror or exc}") from None
    return True


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except PermissionError:
        raise ServiceError(f"cannot remove {path}: permission denied (run as root)") from None
    except OSError as exc:
        raise ServiceError(f"cannot remove {path}: {exc.strerror or exc}") from None
    fsync_dir(path.parent, strict=False)


def _prune_empty_parents(folder: Path, root: Path) -> None:
    """Under --root (a staging folder), drop the folders left empty, never root itself.

    Without --root nothing but the files is removed: /etc/xdg/autostart and
    the like belong to the system.
    """
    root = root.absolute()
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
