"""`nodekeeper service install|uninstall|status --config FILE [--dry-run] [--root DIR]`.

Registers the core with the OS service manager so it starts at boot and is
restarted if it dies, and the tray to start at desktop login (docs/service.md;
docs/service.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nodekeeper.core.startup.apply import Installer
    from nodekeeper.core.startup.plan import ServiceSpec

ACTIONS = ("install", "uninstall", "status")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "service", help="start the core at boot (systemd, launchd, Windows service)"
    )
    parser.add_argument("action", choices=ACTIONS, help="what to do")
    parser.add_argument(
        "--config",
        required=True,
        action="append",
        metavar="FILE",
        help="configuration file (TOML); several: one service whose core process serves "
        "every instance named (docs/instances.md)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be written and run; change nothing"
    )
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="write the files under DIR instead of / and run no commands (packaging)",
    )
    parser.add_argument(
        "--no-tray",
        action="store_true",
        help="leave the tray's login start out (it is left out anyway without a desktop)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nodekeeper.core import paths
    from nodekeeper.core.config import load_config
    from nodekeeper.core.instances import check_distinct
    from nodekeeper.core.startup import locate
    from nodekeeper.core.startup.apply import Installer
    from nodekeeper.core.startup.errors import ServiceUsageError
    from nodekeeper.core.startup.ownership import check_owned
    from nodekeeper.core.startup.plan import (
        build_plan,
        commands_wanted,
        describe,
        shared_spec,
        spec_from_config,
    )

    configs = [load_config(path) for path in args.config]
    check_distinct(configs)
    root = None
    if args.root is not None:
        if not args.root or "\0" in args.root:
            raise ServiceUsageError(f"--root: not a folder name {args.root!r}")
        root = Path(args.root).expanduser().absolute()
        if root.exists() and not root.is_dir():
            raise ServiceUsageError(f"--root: {root} exists and is not a folder")
    core = locate.core_command()
    os_name = paths.current_os()
    tray, tray_note = locate.tray_command(core), ""
    if args.no_tray:
        tray, tray_note = None, "--no-tray: the tray's login start is left out"
    elif tray is not None and root is None and not locate.graphical_desktop(os_name):
        tray, tray_note = None, "no graphical desktop here: the tray's login start is left out"
    specs = [spec_from_config(config, core, tray) for config in configs]
    spec = shared_spec(specs) if len(specs) > 1 else specs[0]
    if args.action == "install":
        owned = [("config", str(config.source)) for config in configs]
        check_owned([("executable", core[0]), *owned], spec.user)
    plan = build_plan(os_name, spec)
    if args.action == "install":
        for other in specs[1:]:
            _refuse_own_service(
                Installer(build_plan(os_name, other), root=root, run_commands=False), other
            )
    run_commands, note = commands_wanted(os_name, root is not None, locate.systemd_running())
    if args.dry_run and args.action != "status":
        shown_root = None if root is None else str(root)
        for line in describe(plan, args.action, shown_root, run_commands, note):
            print(line)
        return 0
    installer = Installer(plan, root=root, run_commands=run_commands, tray_note=tray_note)
    if args.action == "install":
        code = installer.install()
    elif args.action == "uninstall":
        code = installer.uninstall()
    else:
        return installer.status()
    if note and root is None:
        print(note)
    return code


def _refuse_own_service(own: Installer, spec: ServiceSpec) -> None:
    """Two services serving one instance would fight over its data dir lock forever."""
    from nodekeeper.core.startup.errors import ServiceUsageError

    present = own.present(own.plan.core)
    if present:
        raise ServiceUsageError(
            f"instance {spec.instance} has a service of its own ({own.path_of(present[0])}): "
            f"remove it first with 'nodekeeper service uninstall --config {spec.config_path}'"
        )
