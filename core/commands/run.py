"""`nodekeeper run --config FILE`: the core service in the foreground."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodekeeper.core.errors import StateError

if TYPE_CHECKING:
    import logging

    from nodekeeper.core.config import Config
    from nodekeeper.core.platform.base import DataDirLock
    from nodekeeper.core.selfupdate.start import CoreStart


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
    from nodekeeper.core.config import load_config
    from nodekeeper.core.config.program import check_folders
    from nodekeeper.core.instances import check_distinct
    from nodekeeper.core.logs.context import INSTANCE
    from nodekeeper.core.logs.corelog import setup_core_logging
    from nodekeeper.core.platform import current_platform
    from nodekeeper.core.selfupdate.handover import LOCK_ENV, take_private_env
    from nodekeeper.core.selfupdate.start import settle_start

    private = take_private_env()  # before anything could pass them on to the node
    configs = [load_config(path) for path in args.config]
    for config in configs:
        check_folders(config)
    check_distinct(configs)
    platform = current_platform()
    locks: list[DataDirLock] = []
    try:
        for config in configs:
            _data_dir_ready(config.paths.data_dir)
            locks.append(platform.lock_data_dir(config.paths.data_dir, private.get(LOCK_ENV)))
        _setup_logging(args.verbose, tagged=len(configs) > 1)
        for config in configs:
            token = INSTANCE.set(config.instance if len(configs) > 1 else None)
            try:
                setup_core_logging(config.logs, config.instance)
            finally:
                INSTANCE.reset(token)
        core_args = ["run"]
        for path in args.config:
            core_args += ["--config", str(Path(path).resolve())]
        if args.verbose:
            core_args.append("--verbose")
        # The first instance's data dir holds the process's own updates; this may exec
        # the current core.
        start = settle_start(configs[0], locks, core_args, private)
        if len(configs) == 1:
            return _serve_alone(configs[0], start, locks, core_args)
        return _serve_shared(configs, start, locks, core_args)
    finally:
        for lock in locks:
            lock.release()


def _serve_alone(
    config: Config, start: CoreStart, locks: Sequence[DataDirLock], core_args: list[str]
) -> int:
    """One instance: a part failure ends the process (its service manager starts a new one)."""
    import asyncio
    import logging

    from nodekeeper.core.instances import leave_or_hand_over
    from nodekeeper.core.service import build_core, serve

    core = build_core(config, start)
    logging.getLogger("nodekeeper.core").info(
        "nodekeeper core starting: instance %s, pid %d, data dir %s",
        config.instance,
        os.getpid(),
        config.paths.data_dir,
    )
    core.capture.start()
    try:
        code = asyncio.run(serve(core))
    finally:
        core.capture.close()
    return leave_or_hand_over([core], locks, core_args, code)


def _serve_shared(
    configs: list[Config], start: CoreStart, locks: Sequence[DataDirLock], core_args: list[str]
) -> int:
    """Several instances in this one process (core/instances.py)."""
    import asyncio
    import logging

    from nodekeeper.core.instances import build_all, leave_or_hand_over, serve_all

    instances = build_all(configs, start)
    logging.getLogger("nodekeeper.core").info(
        "nodekeeper core starting: instances %s, pid %d",
        ", ".join(f"{c.instance} (data dir {c.paths.data_dir})" for c in configs),
        os.getpid(),
    )
    code = asyncio.run(serve_all(instances))
    return leave_or_hand_over([i.core for i in instances], locks, core_args, code)
