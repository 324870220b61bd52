"""`nodekeeper logs --config FILE [-n N] [-f] [--core]`: print or follow the node's log.

Reads the files directly (no running core needed): the last N lines, from
the archives too when the current file is short, and with ``-f`` everything
appended afterwards, across rotations, until interrupted.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from core.errors import UsageError


def _line_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"-n: {text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"-n: {value} is negative")
    return value


def register(sub: Any) -> None:
    parser = sub.add_parser("logs", help="print or follow the node's log")
    parser.add_argument("--config", required=True, metavar="FILE", help="configuration file (TOML)")
    parser.add_argument(
        "-n", "--lines", type=_line_count, default=10, metavar="N", help="lines to print (10)"
    )
    parser.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new lines, across rotations"
    )
    parser.add_argument(
        "--core", action="store_true", help="the core's own log instead of the node's"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.config import load_config
    from core.logs.files import core_prefix, node_prefix
    from core.logs.follow import follow, tail_bytes

    config = load_config(args.config)
    directory = config.logs.dir
    prefix = core_prefix(config.instance) if args.core else node_prefix(config.instance)
    if not directory.is_dir():
        raise UsageError(f"log directory {directory} does not exist (has the core run yet?)")
    out = sys.stdout.buffer
    if not args.follow:
        for line in tail_bytes(directory, prefix, args.lines):
            out.write(line + b"\n")
        out.flush()
        return 0

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    try:
        follow(directory, prefix, write, lines=args.lines, stop=threading.Event())
    except BrokenPipeError:
        return 0
    return 0
