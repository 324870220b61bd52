"""`nodekeeper logs [--config FILE | --socket PATH] [-n N] [-f] [--core]`: print or follow the node's log.

With ``--config`` it reads the files directly (no running core needed):
the last N lines, from the archives too when the current file is short,
and with ``-f`` everything appended afterwards, across rotations, until
interrupted. With ``--socket`` (or neither option: the default socket) it
asks the running core for the last N lines (``logs_tail``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nodekeeper.core.commands.client import socket_path, target_options
from nodekeeper.core.errors import OperationFailed, UsageError
from nodekeeper.core.ipc.methods import METHODS


def _line_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"-n: {text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"-n: {value} is negative")
    return value


def register(sub: Any) -> None:
    cli = METHODS["logs_tail"].cli
    assert cli is not None
    parser = sub.add_parser(cli.command, help=cli.help)
    target_options(parser)
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
    if not args.config:
        return _run_through_socket(args)
    from nodekeeper.core.config import load_config
    from nodekeeper.core.logs.files import core_prefix, node_prefix
    from nodekeeper.core.logs.follow import follow, tail_bytes

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
        import threading

        follow(directory, prefix, write, lines=args.lines, stop=threading.Event())
    except BrokenPipeError:
        return 0
    return 0


def _run_through_socket(args: argparse.Namespace) -> int:
    if args.follow or args.core:
        raise UsageError("logs: -f and --core read the log files: give --config FILE")
    from nodekeeper.core.ipc.client import Client

    with Client(socket_path(args)) as client:
        lines = client.call("logs_tail", {"lines": args.lines})
    if not isinstance(lines, list):
        raise OperationFailed("logs: the core sent something that is not a list of lines")
    for line in lines:
        print(line)
    return 0
