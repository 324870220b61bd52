"""`nodekeeper run --config FILE`: the core service in the foreground."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodekeeper.core.errors import StateError

if TYPE_CHECKING:
    import logging


def register(sub: Any) -> None:
    parser = sub.add_parser("run", help="run the core service in the foreground")
    parser.add_argument(
        "--config",
        required=True,
        action="append",
        metavar="FILE",
        help="configuration file (TOML); give it once per instance to serve several "
        "instances from one core process (docs/instances.md)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages too")
    parser.set_defaults(func=run)


def _setup_logging(verbose: bool, *, tagged: bool = False) -> logging.Handler:
    """Log to stderr; ``tagged``: each line names its instance (several in one process)."""
    import logging

    from nodekeeper.core.logs.corelog import FORMAT, TAGGED_FORMAT, InstanceTag

    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(TAGGED_FORMAT if tagged else FORMAT))
    if tagged:
        handler.addFilter(InstanceTag())
    root.addHandler(handler)
    return handler


def _data_dir_ready(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as exc:
        raise StateError(f"cannot create data dir {data_dir}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    # Imported here so that client commands (every command module is loaded
    # to build the parser) do not pay for asyncio, logging and the config.
    import asyncio
    import logging

    from nodekeeper.core.config import load_config
    from nodekeeper.core.config.program import check_folders
    from nodekeeper.core.logs.corelog import setup_core_logging
    from nodekeeper.core.platform import current_platform
    from nodekeeper.core.selfupdate.handover import LOCK_ENV, take_private_env
    from nodekeeper.core.selfupdate.start import settle_start
    from nodekeeper.core.service import build_core, serve

    private = take_private_env()  # before anything could pass them on to the node
    if len(args.config) > 1:
        return _run_shared(args.config, args.verbose)
    config_file = args.config[0]
    config = load_config(config_file)
    check_folders(config)
    data_dir = config.paths.data_dir
    _data_dir_ready(data_dir)
    lock = current_platform().lock_data_dir(data_dir, inherited=private.get(LOCK_ENV))
    try:
        _setup_logging(args.verbose)
        setup_core_logging(config.logs, config.instance)
        core_args = ["run", "--config", str(Path(config_file).resolve())]
        if args.verbose:
            core_args.append("--verbose")
        start = settle_start(config, lock, core_args, private)  # may exec the current core
        core = build_core(config, start)
        logging.getLogger("nodekeeper.core").info(
            "nodekeeper core starting: instance %s, pid %d, data dir %s",
            config.instance,
            os.getpid(),
            data_dir,
        )
        core.capture.start()
        try:
            code = asyncio.run(serve(core))
        finally:
            core.capture.close()
        if core.handover is not None:
            from nodekeeper.core.selfupdate.exec_switch import hand_over

            code = hand_over(core, core.handover, lock, core_args)  # returns only on failure
        elif core.leave_running:
            from nodekeeper.core.selfupdate.exec_switch import leave_record

            leave_record(core)
    finally:
        lock.release()
    return code


def _run_shared(config_files: list[str], verbose: bool) -> int:
    """Several instances in this one process (core/instances.py)."""
    import asyncio
    import logging

    from nodekeeper.core.config import load_config
    from nodekeeper.core.config.program import check_folders
    from nodekeeper.core.instances import build_all, check_distinct, serve_all
    from nodekeeper.core.logs.corelog import INSTANCE, setup_core_logging
    from nodekeeper.core.platform import current_platform
    from nodekeeper.core.platform.base import DataDirLock

    configs = [load_config(path) for path in config_files]
    for config in configs:
        check_folders(config)
    check_distinct(configs)
    platform = current_platform()
    locks: list[DataDirLock] = []
    try:
        for config in configs:
            _data_dir_ready(config.paths.data_dir)
            locks.append(platform.lock_data_dir(config.paths.data_dir))
        _setup_logging(verbose, tagged=True)
        for config in configs:
            token = INSTANCE.set(config.instance)
            try:
                setup_core_logging(config.logs, config.instance)
            finally:
                INSTANCE.reset(token)
        instances = build_all(configs)
        logging.getLogger("nodekeeper.core").info(
            "nodekeeper core starting: instances %s, pid %d",
            ", ".join(f"{c.instance} (data dir {c.paths.data_dir})" for c in configs),
            os.getpid(),
        )
        return asyncio.run(serve_all(instances))
    finally:
        for lock in locks:
            lock.release()
