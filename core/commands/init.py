"""`nodekeeper init`: adopt the storage node that Storj's tooling runs today, or `--undo` it.

Finds the node (systemd units of Storj's Linux packaging, a
``storjlabs/storagenode`` container, the services of Storj's Windows
installer, or ``--binary``/``--config-dir`` flags), finds its identity and
shows its node id, writes nodekeeper's config, stops Storj's updater and
the old node, and registers nodekeeper's service (docs/migrating.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nodekeeper.core.adopt.execute import Executor
    from nodekeeper.core.adopt.model import AdoptPlan

# The setups `--from` can name (nodekeeper.core.adopt.detect.KINDS).
KINDS = ("systemd", "docker", "windows")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "init", help="take over a storage node run by Storj's updater, docker or installer"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="where to write the config (default: per OS, per instance)"
    )
    parser.add_argument("--instance", metavar="NAME", help="instance name (default: storagenode)")
    parser.add_argument("--from", dest="from_kind", choices=KINDS, help="which setup to adopt")
    parser.add_argument("--container", metavar="NAME", help="the docker container to adopt")
    parser.add_argument(
        "--docker-inspect", metavar="FILE", help="read the container from `docker inspect` output"
    )
    parser.add_argument("--binary", metavar="PATH", help="the storagenode executable to run")
    parser.add_argument("--config-dir", metavar="DIR", help="the node's config dir (config.yaml)")
    parser.add_argument("--identity-dir", metavar="DIR", help="the node's identity dir")
    parser.add_argument(
        "--dry-run", action="store_true", help="print every step and change nothing"
    )
    parser.add_argument(
        "--undo", action="store_true", help="put back what `nodekeeper init` changed"
    )
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="look and write under DIR instead of / and run no commands (packaging, tests)",
    )
    parser.set_defaults(func=run)


def _root(value: str | None) -> Path | None:
    from nodekeeper.core.adopt.errors import AdoptUsageError

    if value is None:
        return None
    if not value or "\0" in value:
        raise AdoptUsageError(f"--root: not a folder name {value!r}")
    root = Path(value).expanduser().absolute()
    if not root.is_dir():
        raise AdoptUsageError(f"--root: {root} is not a folder")
    return root


def run(args: argparse.Namespace) -> int:
    from nodekeeper.core import paths
    from nodekeeper.core.adopt.detect import Choices, Machine, detect
    from nodekeeper.core.adopt.errors import AdoptUsageError
    from nodekeeper.core.adopt.execute import Executor
    from nodekeeper.core.adopt.identity import candidates, check_key, choose_identity
    from nodekeeper.core.adopt.journal import Journal, journal_path
    from nodekeeper.core.adopt.plan import build_plan
    from nodekeeper.core.startup.apply import run_subprocess
    from nodekeeper.core.update.nodeid import encode_node_id

    root = _root(args.root)
    instance = args.instance or paths.DEFAULT_INSTANCE
    if not paths.valid_instance_name(instance):
        raise AdoptUsageError(f"--instance: {instance!r} is not a plain name (A-Z a-z 0-9 . _ -)")
    os_name = paths.current_os()
    config_path = args.config or str(paths.default_config_path(instance))
    if not Path(config_path).is_absolute() and root is None:
        config_path = str(Path(config_path).absolute())
    machine = Machine(root, os_name, None if root is not None or args.dry_run else run_subprocess)
    journal_file = journal_path(machine.path(config_path))
    executor = Executor(machine)

    if args.undo:
        journal = Journal.load(journal_file)
        if args.dry_run:
            print(f"would undo, from {journal_file}:")
            for step in reversed(journal.steps):
                print(f"  {step.get('kind')} {step.get('target')}")
            return 0
        executor.undo(journal)
        print(f"undone: the setup before `nodekeeper init` is back ({instance})")
        return 0

    if journal_file.exists():
        raise AdoptUsageError(
            f"already adopted ({journal_file} exists); run `nodekeeper init --undo` first"
        )
    if machine.path(config_path).exists():
        raise AdoptUsageError(
            f"{machine.path(config_path)} exists already; remove it or pass --config FILE"
        )
    # For detection, docker may be asked even on a dry run: it changes nothing.
    detect_machine = Machine(root, os_name, None if root is not None else run_subprocess)
    docker_binary = str(paths.default_data_dir(instance) / "adopted" / "storagenode")
    choices = Choices(
        from_kind=args.from_kind,
        container=args.container,
        inspect_file=args.docker_inspect,
        binary=args.binary,
        config_dir=args.config_dir,
        identity_dir=args.identity_dir,
        docker_binary=docker_binary,
    )
    setup, notes = detect(detect_machine, choices)
    windows = os_name == "windows"
    identity = choose_identity(candidates(setup, windows), machine.read_bytes)
    check_key(identity, setup, windows, machine.read_bytes)
    plan = build_plan(setup, identity, instance, config_path, os_name)
    print(f"found {setup.description}")
    print(
        f"storage node {encode_node_id(identity.node_id)} (identity {identity.cert}, {identity.where})"
    )
    for note in (*notes, *plan.notes):
        print(f"note: {note}")
    if args.dry_run:
        for line in describe(executor, plan, journal_file):
            print(line)
        return 0
    journal = Journal(journal_file, instance, config_path)
    executor.apply(plan, journal)
    print(f"adopted: nodekeeper runs storage node {encode_node_id(identity.node_id)} now")
    print(f"(`nodekeeper init --undo{_same_options(args)}` puts the previous setup back)")
    return 0


def _same_options(args: argparse.Namespace) -> str:
    out = ""
    if args.config:
        out += f" --config {args.config}"
    if args.instance:
        out += f" --instance {args.instance}"
    if args.root:
        out += f" --root {args.root}"
    return out


def describe(executor: Executor, plan: AdoptPlan, journal_file: Path) -> list[str]:
    """Every step of ``plan`` as ``--dry-run`` prints it; nothing is changed."""
    from nodekeeper.core.adopt.execute import step_commands
    from nodekeeper.core.startup.model import Command
    from nodekeeper.core.startup.plan import describe as describe_service

    machine = executor.machine
    os_name = machine.os_name
    runs = "would not run (--root)" if machine.root is not None else "would run"
    lines = [f"dry run: nothing is changed; the journal would be {journal_file}"]
    for number, step in enumerate(plan.steps, 1):
        lines.append(f"{number}. {step.what}")
        if step.kind == "write-config":
            lines.extend(f"     {line}" for line in plan.config_text.splitlines())
        elif step.kind == "nodekeeper-service":
            service, run_commands, note = executor.service_plan(plan.config_text, step.target)
            shown_root = None if machine.root is None else str(machine.root)
            for line in describe_service(service, "install", shown_root, run_commands, note):
                lines.append(f"     {line}")
            continue
        if step.kind == "systemd-unit":
            lines.append(f"     would remove the links `systemctl enable` made for {step.target}")
        for argv in step_commands(step):
            lines.append(f"     {runs}: {Command(argv).render(os_name)}")
    return lines
