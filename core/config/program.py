"""What the core needs from the file system, checked before it starts.

A ``node.command`` whose program does not exist, is a folder or is not
executable would otherwise be retried forever with back-off; a missing
``node.workdir`` likewise; a ``logs.dir`` that is a file would lose every
log line. These look at the file system, so they run where the core
starts (``nodekeeper run``), not when a client command merely reads the
configuration to find the socket.
"""

from __future__ import annotations

import os
from pathlib import Path

from nodekeeper.core.config.schema import Config
from nodekeeper.core.errors import ConfigError

BINARY_PLACEHOLDER = "{binary}"


def check_node_program(config: Config) -> None:
    """Raise ConfigError (one line naming the key) if the node cannot be started as configured.

    A program given as ``{binary}`` is the installed version's, checked
    elsewhere; so are other arguments, which are the node's business.
    """
    node = config.node
    if node.workdir is not None and not node.workdir.is_dir():
        raise ConfigError(f"{config.source}: node.workdir: {node.workdir} is not a folder")
    program = node.command[0]
    if BINARY_PLACEHOLDER in program:
        return
    problem = program_problem(
        program,
        cwd=node.workdir or Path.cwd(),
        search_path=node.env.get("PATH", os.environ.get("PATH", os.defpath)),
    )
    if problem is not None:
        raise ConfigError(f"{config.source}: node.command: {problem}")


def program_problem(program: str, *, cwd: Path, search_path: str) -> str | None:
    """What stops ``program`` from being run, in words, or None."""
    if os.sep not in program and (os.altsep is None or os.altsep not in program):
        import shutil  # it imports bz2 and lzma: not at start of every client command

        found = shutil.which(program, path=search_path)
        if found is None:
            return f"program {program!r} not found on PATH (give its full path)"
        return None
    path = cwd / program
    if not path.exists():
        return f"program {str(path)!r} does not exist"
    if path.is_dir():
        return f"program {str(path)!r} is a folder, not a program"
    if not os.access(path, os.X_OK):
        return f"program {str(path)!r} is not executable (chmod +x it)"
    return None


def check_folders(config: Config) -> None:
    """Raise ConfigError if a folder the core creates or uses is a file, or lies under one.

    The socket's folder is left to the listener, which says "cannot listen on ..." itself.
    """
    folders = {"paths.data_dir": config.paths.data_dir, "logs.dir": config.logs.dir}
    for key, folder in folders.items():
        problem = folder_problem(folder)
        if problem is not None:
            raise ConfigError(f"{config.source}: {key}: {problem}")


def folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be used or created as a folder, in words, or None."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir():
        return None
    if existing == folder:
        return f"{folder} is a file, not a folder"
    return f"{folder} cannot be created: {existing} is a file, not a folder"
