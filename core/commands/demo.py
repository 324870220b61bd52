"""`nodekeeper demo`: end-to-end demonstration on localhost."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("demo", help="end-to-end demonstration on localhost")
    parser.add_argument(
        "--dir", type=Path, help="scratch folder to use and keep (default: a temporary one)"
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the core running after the demo until Ctrl-C",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nodekeeper.core.demo.scenario import run_demo

    return run_demo(args.dir, args.keep_running)
