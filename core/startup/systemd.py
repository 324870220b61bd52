"""The systemd system unit that starts the core at boot (Linux).

Pure text building: :func:`unit_text` renders the unit and
:func:`registration` adds the path and the ``systemctl`` commands. Every
value that lands in ``ExecStart=`` or ``Environment=`` is quoted by
systemd's own rules (specifiers, variables, quotes, C escapes), so paths
with spaces, ``%``, ``$``, quotes or backslashes come back intact.
"""

from __future__ import annotations

import re

from nodekeeper.core.startup import sandbox
from nodekeeper.core.startup.model import Command, PlannedFile, Registration, ServiceSpec

UNIT_DIR = "/etc/systemd/system"
RESTART_SEC = 5

_UNIT_NAME = re.compile(r"nodekeeper-(?P<instance>[A-Za-z0-9._-]{1,64})\.service")
_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


def unit_name(instance: str) -> str:
    return f"nodekeeper-{instance}.service"


def unit_path(instance: str) -> str:
    return f"{UNIT_DIR}/{unit_name(instance)}"


def instance_of_unit(file_name: str) -> str | None:
    match = _UNIT_NAME.fullmatch(file_name)
    return match.group("instance") if match else None


def quote_exec_arg(arg: str) -> str:
    """One ExecStart= word: ``%`` → ``%%``, ``$`` → ``$$``, quoted when not plain."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _PLAIN.fullmatch(arg):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_environment(name: str, value: str) -> str:
    """One Environment= assignment; variables are not expanded there, specifiers are."""
    text = f"{name}={value}".replace("%", "%%")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cpu_quota_percent(cpu_max: float) -> int:
    """CPU cores → CPUQuota= percent (1.5 cores = 150 %), at least 1 %."""
    return max(1, round(cpu_max * 100))


def unit_text(spec: ServiceSpec) -> str:
    lines = [
        f"# nodekeeper core for {_served(spec, 'instance')}, written by "
        "`nodekeeper service install`.",
        "# Remove it with `nodekeeper service uninstall`; local changes belong in a drop-in",
        f"# (systemctl edit {unit_name(spec.instance)}).",
        "[Unit]",
        f"Description=nodekeeper: keeps storage {_served(spec, 'node')} running and up to date",
        "After=network-online.target",
        "Wants=network-online.target",
        # Never give up restarting: the core itself is what keeps the node alive.
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        # The core says READY=1 once the node runs and pings the watchdog from its loop.
        "Type=notify",
        "NotifyAccess=main",
        f"WatchdogSec={sandbox.WATCHDOG_SEC}",
        "ExecStart=" + " ".join(quote_exec_arg(a) for a in spec.run_command),
        "Restart=always",
        f"RestartSec={RESTART_SEC}",
        # SIGTERM goes to the core only, which stops the node gracefully within
        # node.stop_timeout; whatever is left after TimeoutStopSec is killed.
        "KillMode=mixed",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={spec.stop_timeout_s}",
        quote_environment_line("PYTHONUNBUFFERED", "1"),
        *(quote_environment_line(k, v) for k, v in sandbox.DEFAULT_PATH_ENVIRONMENT),
        # The sandbox (core/startup/sandbox.py, docs/service.md).
        *sandbox.user_lines(spec.user),
        *sandbox.directory_lines(writable_paths(spec)),
        *sandbox.HARDENING,
    ]
    if spec.memory_max is not None:
        lines.append(f"MemoryMax={spec.memory_max}")
    if spec.cpu_max is not None:
        lines.append(f"CPUQuota={cpu_quota_percent(spec.cpu_max)}%")
    if spec.nice is not None:
        lines.append(f"Nice={spec.nice}")
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def _served(spec: ServiceSpec, word: str) -> str:
    """'node a', or 'nodes a, b, c' for a core serving several instances."""
    if not spec.more_instances:
        return f"{word} {spec.instance}"
    return f"{word}s " + ", ".join((spec.instance, *spec.more_instances))


def writable_paths(spec: ServiceSpec) -> list[str]:
    """The folders the core and the nodes write: every served instance's own."""
    return [*spec.own_folders(), *spec.more_writable]


def quote_environment_line(name: str, value: str) -> str:
    return "Environment=" + quote_environment(name, value)


def useradd_argv(user: str) -> tuple[str, ...]:
    """Creates the service user (and its group) the way the Debian package does."""
    return (
        "useradd",
        "--system",
        "--user-group",
        "--home-dir",
        "/var/lib/nodekeeper",
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
        user,
    )


def registration(spec: ServiceSpec) -> Registration:
    unit = unit_name(spec.instance)
    return Registration(
        what=f"core service {unit}",
        files=(PlannedFile(unit_path(spec.instance), unit_text(spec).encode()),),
        install=(
            Command(("systemctl", "daemon-reload"), only_if_changed=True),
            # The unprivileged user the unit runs the core as, before it starts;
            # 9: the user exists already.
            Command(useradd_argv(spec.user), ok_codes=frozenset({0, 9})),
            # A running core picks up a changed unit; a stopped one is left for enable.
            Command(("systemctl", "try-restart", unit), only_if_changed=True),
            Command(("systemctl", "enable", "--now", unit)),
        ),
        uninstall=(Command(("systemctl", "disable", "--now", unit), ok_codes=None),),
        after_uninstall=(Command(("systemctl", "daemon-reload")),),
        status=(
            Command(("systemctl", "is-enabled", unit), ok_codes=None),
            Command(("systemctl", "is-active", unit), ok_codes=None),
        ),
    )
