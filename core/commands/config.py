"""`nodekeeper config check [FILE]`: is this configuration one the core would start with?

Reads the file exactly as `nodekeeper run` does and exits 0 when it would
be accepted, or 2 with the same one line `run` would print. FILE defaults
to ``$NODEKEEPER_CONFIG``, then the default config of instance
"storagenode".
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("config", help="work with configuration files")
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION")
    actions.required = True
    check = actions.add_parser(
        "check", help="validate a config file: exit 0 if the core accepts it, else 2"
    )
    check.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="the config file (default: $NODEKEEPER_CONFIG, else the default config)",
    )
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    from nodekeeper.core.commands.cores import CONFIG_ENV
    from nodekeeper.core.config import load_config
    from nodekeeper.core.paths import default_config_path

    path = args.file or os.environ.get(CONFIG_ENV) or str(default_config_path())
    config = load_config(path)
    print(
        f"{config.source}: ok (instance {config.instance}, updates from "
        f"{config.updates.source}, socket {config.paths.socket})"
    )
    return 0
