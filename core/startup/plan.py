"""What `nodekeeper service install` would write and run, for every OS.

Everything here is pure: :func:`build_plan` takes the OS name and a
:class:`ServiceSpec` (paths, limits, the commands that start the core and
the tray) and returns the files and commands as data, so the plan of each
OS is reviewed and tested on any OS. This module never touches the
filesystem, never runs a command and never looks at the running system;
``nodekeeper.core.startup.apply`` carries a plan out.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from nodekeeper.core.config import Config
from nodekeeper.core.startup import autostart, launchd, systemd, windows
from nodekeeper.core.startup.errors import ServiceUsageError
from nodekeeper.core.startup.model import Command, PlannedFile, Registration, ServiceSpec

__all__ = ["Command", "PlannedFile", "Registration", "ServicePlan", "ServiceSpec", "build_plan"]

_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")

OsName = Literal["linux", "darwin", "windows"]
OS_NAMES: tuple[OsName, ...] = ("linux", "darwin", "windows")


@dataclass(frozen=True)
class ServicePlan:
    os_name: OsName
    service_name: str
    core: Registration
    tray: Registration
    # False when the tray is not installed: install leaves its login start out,
    # uninstall and status still look after it.
    tray_installable: bool

    def registrations(self, action: str) -> tuple[Registration, ...]:
        if action == "install" and not self.tray_installable:
            return (self.core,)
        return (self.core, self.tray)


def spec_from_config(
    config: Config,
    core_command: tuple[str, ...],
    tray_command: tuple[str, ...] | None,
) -> ServiceSpec:
    return ServiceSpec(
        instance=config.instance,
        config_path=str(config.source),
        core_command=core_command,
        tray_command=tray_command,
        stop_timeout=config.node.stop_timeout,
        memory_max=config.limits.memory_max,
        cpu_max=config.limits.cpu_max,
        nice=config.limits.nice,
        logs_dir=str(config.logs.dir),
        data_dir=str(config.paths.data_dir),
        socket_path=config.paths.socket,
        node_workdir=None if config.node.workdir is None else str(config.node.workdir),
    )


def shared_spec(specs: Sequence[ServiceSpec]) -> ServiceSpec:
    """One service for several instances in one core process, named after the first.

    It stops within the longest stop timeout and writes every instance's
    folders. Its memory and CPU limits are the sums of the instances' when
    every instance has one (each node keeps its own limit inside), and its
    nice value is theirs when they agree.
    """
    first, rest = specs[0], specs[1:]
    memory = [s.memory_max for s in specs]
    cpu = [s.cpu_max for s in specs]
    nice = {s.nice for s in specs}
    return dataclasses.replace(
        first,
        stop_timeout=max(s.stop_timeout for s in specs),
        memory_max=None if None in memory else sum(m for m in memory if m is not None),
        cpu_max=None if None in cpu else sum(c for c in cpu if c is not None),
        nice=nice.pop() if len(nice) == 1 else None,
        more_instances=tuple(s.instance for s in rest),
        more_configs=tuple(s.config_path for s in rest),
        more_writable=tuple(f for s in rest for f in s.own_folders()),
    )


def service_name(os_name: OsName, instance: str) -> str:
    if os_name == "darwin":
        return launchd.daemon_label(instance)
    return f"nodekeeper-{instance}"


def build_plan(os_name: OsName, spec: ServiceSpec) -> ServicePlan:
    """The files and commands that register ``spec`` with ``os_name``'s service manager."""
    check_spec(spec)
    if os_name == "linux":
        core = systemd.registration(spec)
        tray = autostart.xdg_registration(spec.tray_command)
    elif os_name == "darwin":
        core = launchd.daemon_registration(spec)
        tray = autostart.launch_agent_registration(spec.tray_command)
    elif os_name == "windows":
        core = windows.service_registration(spec)
        tray = autostart.windows_run_registration(spec.tray_command)
    else:
        raise ServiceUsageError(f"no service manager known for OS {os_name!r}")
    return ServicePlan(
        os_name, service_name(os_name, spec.instance), core, tray, spec.tray_command is not None
    )


def check_spec(spec: ServiceSpec) -> None:
    """Refuse values that cannot be written safely into a service definition."""
    named: list[tuple[str, str]] = [
        ("config file path", spec.config_path),
        ("logs dir", spec.logs_dir),
        ("data dir", spec.data_dir),
        ("socket path", spec.socket_path),
        ("node workdir", spec.node_workdir or ""),
        *(("config file path", c) for c in spec.more_configs),
        *(("folder", f) for f in spec.more_writable),
        *(("core command", a) for a in spec.core_command),
        *(("tray command", a) for a in spec.tray_command or ()),
    ]
    for what, value in named:
        bad = _control_character(value)
        if bad is not None:
            raise ServiceUsageError(
                f"the {what} {value!r} contains the control character {bad!r}; "
                "a service definition cannot hold it (rename or move the file)"
            )
    if not spec.core_command:
        raise ServiceUsageError("no command to start nodekeeper with")
    if not _USER_NAME.fullmatch(spec.user):
        raise ServiceUsageError(f"{spec.user!r} is not a user name a service can run as")


def other_instances(os_name: OsName, instance: str, core_dir_names: Iterable[str]) -> list[str]:
    """Instances other than ``instance`` whose core registration files are among the names."""
    found = []
    for name in core_dir_names:
        other = core_file_instance(os_name, name)
        if other is not None and other != instance:
            found.append(other)
    return sorted(found)


def core_file_instance(os_name: OsName, file_name: str) -> str | None:
    if os_name == "linux":
        return systemd.instance_of_unit(file_name)
    if os_name == "darwin":
        return launchd.instance_of_daemon(file_name)
    return None


def commands_wanted(os_name: OsName, root_given: bool, systemd_running: bool) -> tuple[bool, str]:
    """Whether to run the plan's commands, and a one-line reason when they are not run."""
    if root_given:
        return False, "--root given: files only, no commands are run"
    if os_name == "linux" and not systemd_running:
        return False, "systemd is not running here: the unit takes effect at the next boot"
    return True, ""


def describe(
    plan: ServicePlan, action: str, root: str | None, run_commands: bool, reason: str = ""
) -> list[str]:
    """What ``--dry-run`` prints: every file with its content and every command.

    Commands that would not be run here are listed too, marked as such.
    """
    lines: list[str] = []
    for registration in plan.registrations(action):
        commands: tuple[Command, ...]
        if action == "install":
            for planned in registration.files:
                where = target_path(planned.path, root)
                lines.append(f"would write {where} (mode {planned.mode:04o}):")
                text = planned.content.decode("utf-8")
                lines.extend(f"    {line}" for line in text.splitlines())
            commands = registration.install
        elif action == "uninstall":
            for planned in registration.files:
                note = " (unless another instance still uses it)" if registration.shared else ""
                lines.append(f"would remove {target_path(planned.path, root)}{note}")
            commands = (*registration.uninstall, *registration.after_uninstall)
        else:
            commands = registration.status
        for command in commands:
            condition = " (if a file changed)" if command.only_if_changed else ""
            rendered = command.render(plan.os_name)
            if run_commands:
                lines.append(f"would run: {rendered}{condition}")
            else:
                lines.append(f"would not run: {rendered}{condition}")
    if not run_commands and reason:
        lines.append(f"(commands not run: {reason})")
    return lines


def target_path(path: str, root: str | None) -> str:
    """Where ``path`` lands when files are written under ``root`` instead of /."""
    if root is None:
        return path
    return root.rstrip("/") + "/" + path.lstrip("/")


def _control_character(value: str) -> str | None:
    for char in value:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return char
    return None
