"""The `nodekeeper` command line (docs/contract.md, Command line).

Each command group lives in its own module under ``nodekeeper.core.commands`` and
registers its sub-parsers; this module only assembles them and turns
operator-facing errors into one line on stderr and an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.version import running_version

# One module per command group; each exposes ``register(subparsers)`` and
# sets ``func`` (args -> exit code) on the parsers it adds.
COMMAND_MODULES = (
    "nodekeeper.core.commands.run",
    "nodekeeper.core.commands.demo",
    "nodekeeper.core.commands.logs",
    "nodekeeper.core.commands.state",
    "nodekeeper.core.commands.release",
    "nodekeeper.core.commands.client",
    "nodekeeper.core.commands.service",
    "nodekeeper.core.commands.init",
    "nodekeeper.core.commands.config",
)
_CLIENT = "nodekeeper.core.commands.client"
# The module that adds each command: running one command loads and builds only
# that module's parsers (the whole tree costs a client command tens of ms).
COMMANDS = {
    "run": "nodekeeper.core.commands.run",
    "demo": "nodekeeper.core.commands.demo",
    "logs": "nodekeeper.core.commands.logs",
    "state": "nodekeeper.core.commands.state",
    "release": "nodekeeper.core.commands.release",
    **dict.fromkeys(
        ("status", "updates", "check", "core-rollback", "restart", "stop", "start", "reload"),
        _CLIENT,
    ),
    "service": "nodekeeper.core.commands.service",
    "init": "nodekeeper.core.commands.init",
    "config": "nodekeeper.core.commands.config",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


class _Version(argparse.Action):
    """nodekeeper's version, then the node's where a running core or a config tells it."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.pop("default", None)
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from nodekeeper.core.commands.cores import version_lines

        print("\n".join(version_lines(running_version())))
        parser.exit(0)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: only its command's module when it names a known command
    first, every command otherwise (no argv, help, an unknown command, --version)."""
    parser = _Parser(prog="nodekeeper", description="Keeps a storage node running and up to date.")
    parser.add_argument(
        "--version", action=_Version, help="print nodekeeper's version and the node's, and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    wanted = COMMANDS.get(argv[0]) if argv else None
    for name in COMMAND_MODULES if wanted is None else (wanted,):
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except NodekeeperError as exc:
        print(f"nodekeeper: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`nodekeeper status | head -1`): that is its choice.
        _discard_stdout()
        return 0
    except PermissionError as exc:
        print(
            f"nodekeeper: {_os_problem(exc)} (run it as root or as the core's user)",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        print(f"nodekeeper: {_os_problem(exc)}", file=sys.stderr)
        return 1
    return code


def _os_problem(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else ""
    what = (exc.strerror or str(exc)).lower() if exc.strerror else str(exc)
    return f"{what}: {where}" if where else what


def _discard_stdout() -> None:
    """Point stdout at the null device so that flushing it at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
