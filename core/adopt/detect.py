"""Finding the storage node on this machine (or under ``--root``): the I/O side of `init`.

Reads unit files, ``config.yaml``, ``/etc/passwd`` and identity
certificates under the root folder; asks docker (``docker inspect``) and,
on Windows, the Service Control Manager through the command runner it is
given. The decisions are in :mod:`~nodekeeper.core.adopt.setups` and
:mod:`~nodekeeper.core.adopt.identity`.
"""

from __future__ import annotations

import json
import posixpath
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PureWindowsPath

from nodekeeper.core.adopt import docker, setups
from nodekeeper.core.adopt.errors import AdoptUsageError
from nodekeeper.core.adopt.model import NodeSetup
from nodekeeper.core.adopt.storjconfig import CONFIG_FILE, parse_config_yaml
from nodekeeper.core.adopt.units import parse_unit
from nodekeeper.core.startup.apply import CommandResult

# Where packages and administrators put unit files, most specific first.
UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
KINDS = ("systemd", "docker", "windows")

Runner = Callable[[Sequence[str]], CommandResult]


@dataclass(frozen=True)
class Choices:
    """What the operator said on the command line."""

    from_kind: str | None = None  # systemd | docker | windows
    container: str | None = None
    inspect_file: str | None = None
    binary: str | None = None
    config_dir: str | None = None
    identity_dir: str | None = None
    docker_binary: str = ""  # where a binary taken out of docker goes


class Machine:
    """The system `init` looks at: ``/`` or a ``--root`` folder, and a command runner."""

    def __init__(self, root: Path | None, os_name: str, runner: Runner | None) -> None:
        self.root = root
        self.os_name = os_name
        self.runner = runner  # None: run nothing (--root)

    def path(self, path: str) -> Path:
        if self.root is None:
            return Path(path)
        return Path(str(self.root).rstrip("/") + "/" + path.lstrip("/"))

    def read_text(self, path: str) -> str | None:
        try:
            return self.path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def read_bytes(self, path: str) -> bytes | None:
        try:
            return self.path(path).read_bytes()
        except OSError:
            return None

    def home_of(self, user: str | None) -> str | None:
        user = user or "root"
        if self.root is None:
            if sys.platform == "win32":
                return None
            else:
                import pwd

                try:
                    home: str = pwd.getpwnam(user).pw_dir
                except KeyError:
                    return None
                return home
        for line in (self.read_text("/etc/passwd") or "").splitlines():
            fields = line.split(":")
            if len(fields) >= 6 and fields[0] == user:
                return fields[5]
        return "/root" if user == "root" else None

    def node_config(self, config_dir: str | None) -> dict[str, str]:
        if not config_dir:
            return {}
        if self.os_name == "windows":
            text = self.read_text(str(PureWindowsPath(config_dir) / CONFIG_FILE))
        else:
            text = self.read_text(posixpath.join(config_dir, CONFIG_FILE))
        return parse_config_yaml(text) if text is not None else {}


def find_unit(machine: Machine, name: str) -> str | None:
    for folder in UNIT_DIRS:
        path = posixpath.join(folder, name)
        if machine.path(path).is_file():
            return path
    return None


def systemd_setups(machine: Machine) -> list[NodeSetup]:
    unit_path = find_unit(machine, setups.NODE_UNIT)
    if unit_path is None:
        return []
    unit = parse_unit(machine.read_text(unit_path) or "")
    if not unit.exec_start:
        raise AdoptUsageError(f"{machine.path(unit_path)}: no ExecStart= line")
    updater = setups.UPDATER_UNIT if find_unit(machine, setups.UPDATER_UNIT) else None
    home = machine.home_of(unit.user)
    setup = setups.systemd_setup(unit_path, unit, home, {}, updater)
    return [replace(setup, node_config=machine.node_config(setup.config_dir))]


def docker_containers(machine: Machine, choices: Choices) -> list[docker.Container]:
    if choices.inspect_file:
        try:
            text = Path(choices.inspect_file).read_text(encoding="utf-8")
            data = json.loads(text)
        except OSError as exc:
            raise AdoptUsageError(
                f"--docker-inspect: cannot read {choices.inspect_file}: {exc.strerror or exc}"
            ) from None
        except ValueError as exc:
            raise AdoptUsageError(
                f"--docker-inspect: {choices.inspect_file}: not JSON ({exc})"
            ) from None
        return docker.parse_inspect(data, choices.inspect_file)
    if machine.runner is None or shutil.which("docker") is None:
        if choices.container:
            where = "under --root" if machine.runner is None else "here (no docker command)"
            raise AdoptUsageError(
                f"--container {choices.container}: docker cannot be asked {where}; "
                "pass the output of `docker inspect` with --docker-inspect FILE"
            )
        return []
    names = [choices.container] if choices.container else _container_names(machine.runner)
    if not names:
        return []
    result = machine.runner(("docker", "inspect", *names))
    if result.returncode != 0:
        if choices.container:
            detail = result.output.strip().splitlines()[-1:] or ["no output"]
            raise AdoptUsageError(f"docker inspect {choices.container}: {detail[0]}")
        return []
    try:
        return docker.parse_inspect(json.loads(result.output), "docker inspect")
    except ValueError:
        return []


def _container_names(runner: Runner) -> list[str]:
    result = runner(("docker", "ps", "--all", "--format", "{{.Names}}"))
    if result.returncode != 0:
        return []
    return [line.strip() for line in result.output.splitlines() if line.strip()]


def docker_setups(machine: Machine, choices: Choices) -> tuple[list[NodeSetup], list[str]]:
    """Storage node containers as setups, and notes (a watchtower that keeps running)."""
    containers = docker_containers(machine, choices)
    notes = [
        f"container {c.name} runs watchtower: it leaves the stopped node container alone, "
        "remove it if nothing else needs it"
        for c in containers
        if "watchtower" in c.image
    ]
    found = []
    for container in docker.storagenode_containers(containers):
        if choices.container and container.name != choices.container:
            continue
        config_dir = docker.host_path(container, "config")
        setup = docker_setup(machine, container, config_dir, choices)
        found.append(setup)
    return found, notes


def docker_setup(
    machine: Machine, container: docker.Container, config_dir: str | None, choices: Choices
) -> NodeSetup:
    binary = choices.binary or choices.docker_binary
    return setups.docker_setup(container, machine.node_config(config_dir), binary)


def windows_setups(machine: Machine) -> list[NodeSetup]:
    if machine.os_name != "windows" or machine.runner is None:
        return []
    from nodekeeper.core.platform.winservices import query_service

    runner = machine.runner

    def run(argv: Sequence[str]) -> tuple[int, str]:
        result = runner(argv)
        return result.returncode, result.output

    service = query_service(setups.NODE_SERVICE, run)
    if service is None:
        return []
    updater = query_service(setups.UPDATER_SERVICE, run)
    setup = setups.windows_setup(service, updater, {})
    return [replace(setup, node_config=machine.node_config(setup.config_dir))]


def detect(machine: Machine, choices: Choices) -> tuple[NodeSetup, list[str]]:
    """The one storage node to adopt, and notes; AdoptUsageError when none or several."""
    found: list[NodeSetup] = []
    notes: list[str] = []
    wanted = choices.from_kind
    if choices.container or choices.inspect_file:
        wanted = wanted or "docker"
    if wanted in (None, "systemd"):
        found += systemd_setups(machine)
    if wanted in (None, "docker"):
        containers, notes = docker_setups(machine, choices)
        found += containers
    if wanted in (None, "windows"):
        found += windows_setups(machine)
    if len(found) > 1:
        listed = "; ".join(s.description for s in found)
        raise AdoptUsageError(
            f"found {len(found)} storage nodes: {listed}; "
            "choose one with --from systemd|docker|windows or --container NAME"
        )
    if not found:
        if choices.binary:
            return _from_flags(machine, choices), notes
        raise AdoptUsageError(
            "no storage node found (no storagenode.service unit, no storjlabs/storagenode "
            "container, no storagenode Windows service); "
            "describe it with --binary PATH --config-dir DIR [--identity-dir DIR]"
        )
    return _with_flags(machine, found[0], choices), notes


def _from_flags(machine: Machine, choices: Choices) -> NodeSetup:
    args = ["run"]
    if choices.config_dir:
        args += ["--config-dir", choices.config_dir]
    return NodeSetup(
        kind="flags",
        description=f"the command line {choices.binary} run",
        binary=choices.binary,
        args=tuple(args),
        config_dir=choices.config_dir,
        identity_dir=choices.identity_dir,
        node_config=machine.node_config(choices.config_dir),
    )


def _with_flags(machine: Machine, setup: NodeSetup, choices: Choices) -> NodeSetup:
    """The operator's flags win over what was detected."""
    if choices.binary and setup.kind != "docker":
        setup = replace(setup, binary=choices.binary)
    if choices.config_dir:
        setup = replace(
            setup,
            config_dir=choices.config_dir,
            node_config=machine.node_config(choices.config_dir),
        )
    if choices.identity_dir:
        setup = replace(setup, identity_dir=choices.identity_dir)
    return setup
