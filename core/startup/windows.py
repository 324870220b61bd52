"""The Windows service that starts the core at boot: a plan of ``sc.exe`` commands.

Nothing is written to disk on Windows; the service is created, configured
to start automatically and to restart after a failure, and started, all by
the commands returned here (run only on Windows). Command lines are built
with the Windows quoting rules (:func:`subprocess.list2cmdline`), so paths
with spaces survive.

The Service Control Manager expects its programs to report to it; a core
started this way needs a service host (the core's Windows service entry
point, or a wrapper such as WinSW/NSSM in front of ``nodekeeper run``) or
the SCM stops it after its start timeout. docs/service.md says more.
"""

from __future__ import annotations

import subprocess

from nodekeeper.core.startup.model import Command, Registration, ServiceSpec

SERVICES_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services"
RESTART_DELAY_MS = 5000
FAILURE_RESET_S = 86400

# sc.exe exit codes that mean "already so" rather than failure.
ERROR_SERVICE_EXISTS = 1073
ERROR_SERVICE_ALREADY_RUNNING = 1056
ERROR_SERVICE_DOES_NOT_EXIST = 1060
ERROR_SERVICE_NOT_ACTIVE = 1062


def service_name(instance: str) -> str:
    return f"nodekeeper-{instance}"


def command_line(argv: tuple[str, ...]) -> str:
    return subprocess.list2cmdline(argv)


def service_registration(spec: ServiceSpec) -> Registration:
    name = service_name(spec.instance)
    display = f"nodekeeper ({spec.instance})"
    bin_path = command_line(spec.run_command)
    settings = ("binPath=", bin_path, "start=", "auto", "DisplayName=", display)
    actions = "/".join(["restart", str(RESTART_DELAY_MS)] * 3)
    install = [
        Command(
            ("sc.exe", "create", name, *settings), ok_codes=frozenset({0, ERROR_SERVICE_EXISTS})
        ),
        # Brings an existing service up to date; a no-op right after create.
        Command(("sc.exe", "config", name, *settings)),
        Command(
            (
                "sc.exe",
                "description",
                name,
                f"Keeps storage node {spec.instance} running and up to date.",
            )
        ),
        Command(("sc.exe", "failure", name, "reset=", str(FAILURE_RESET_S), "actions=", actions)),
        # Also restart when the core exits with an error code, not only on a crash.
        Command(("sc.exe", "failureflag", name, "1")),
    ]
    environment = ["PYTHONUNBUFFERED=1"]
    install.append(
        Command(
            (
                "reg.exe",
                "add",
                f"{SERVICES_KEY}\\{name}",
                "/v",
                "Environment",
                "/t",
                "REG_MULTI_SZ",
                "/d",
                "\\0".join(environment),
                "/f",
            )
        )
    )
    install.append(
        Command(("sc.exe", "start", name), ok_codes=frozenset({0, ERROR_SERVICE_ALREADY_RUNNING}))
    )
    return Registration(
        what=f"core service {name}",
        install=tuple(install),
        uninstall=(
            Command(
                ("sc.exe", "stop", name),
                ok_codes=frozenset({0, ERROR_SERVICE_DOES_NOT_EXIST, ERROR_SERVICE_NOT_ACTIVE}),
            ),
            Command(
                ("sc.exe", "delete", name), ok_codes=frozenset({0, ERROR_SERVICE_DOES_NOT_EXIST})
            ),
        ),
        status=(Command(("sc.exe", "query", name), ok_codes=None, show_line_with="STATE"),),
    )
