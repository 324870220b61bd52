"""From what was read (a unit, a container, a Windows service) to a :class:`NodeSetup`. Pure.

Reading files and asking docker or the SCM is :mod:`nodekeeper.core.adopt.detect`;
this only turns the answers into the node's command line in host terms.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from nodekeeper.core.adopt import docker
from nodekeeper.core.adopt.docker import Container
from nodekeeper.core.adopt.model import Handover, NodeSetup
from nodekeeper.core.adopt.storjconfig import flag_value
from nodekeeper.core.adopt.units import UnitFile
from nodekeeper.core.adopt.windows import WindowsService

NODE_UNIT = "storagenode.service"
UPDATER_UNIT = "storagenode-updater.service"
NODE_SERVICE = "storagenode"
UPDATER_SERVICE = "storagenode-updater"
# Where `storagenode` keeps its config when run without --config-dir.
XDG_CONFIG_DIR = ".local/share/storj/storagenode"


def _absolute(path: str | None, base: str | None) -> str | None:
    if path is None:
        return None
    if posixpath.isabs(path) or not base:
        return path
    return posixpath.normpath(posixpath.join(base, path))


def default_config_dir(home: str | None) -> str | None:
    return posixpath.join(home, XDG_CONFIG_DIR) if home else None


def systemd_setup(
    unit_path: str,
    unit: UnitFile,
    home: str | None,
    node_config: Mapping[str, str],
    updater_unit: str | None,
) -> NodeSetup:
    """The node of Storj's Linux packaging (or a hand-written unit like it)."""
    args = unit.exec_start[1:]
    workdir = unit.working_directory
    config_dir = _absolute(flag_value(args, "config-dir"), workdir) or default_config_dir(home)
    handover = []
    if updater_unit is not None:
        handover.append(Handover("systemd-unit", updater_unit, "updater"))
    handover.append(Handover("systemd-unit", NODE_UNIT, "node"))
    return NodeSetup(
        kind="systemd",
        description=f"systemd unit {NODE_UNIT} ({unit_path})",
        binary=unit.exec_start[0] if unit.exec_start else None,
        args=tuple(args),
        config_dir=config_dir,
        identity_dir=_absolute(flag_value(args, "identity-dir"), workdir),
        node_config=dict(node_config),
        user=unit.user,
        home=home,
        handover=tuple(handover),
    )


def docker_setup(container: Container, node_config: Mapping[str, str], binary: str) -> NodeSetup:
    """The node of a ``storjlabs/storagenode`` container, run from the host instead."""
    config_dir = docker.host_path(container, flag_value(container.args, "config-dir") or "config")
    identity_dir = docker.host_path(
        container, flag_value(container.args, "identity-dir") or "identity"
    )
    args = ["run", *docker.node_flags(container), *docker.mapped_settings(container, node_config)]
    port = docker.server_port(container)
    if port is not None and port != "28967" and flag_value(args, "server.address") is None:
        args.append(f"--server.address=:{port}")
    return NodeSetup(
        kind="docker",
        description=f"docker container {container.name} ({container.image})",
        binary=binary,
        args=tuple(args),
        config_dir=config_dir,
        identity_dir=identity_dir,
        node_config=dict(node_config),
        env=docker.node_env(container),
        console_address=docker.console_address(container),
        handover=(
            Handover(
                "docker-container",
                container.name,
                "node",
                {"running": container.running, "restart": container.restart_policy},
            ),
        ),
        container=container.name,
    )


def windows_setup(
    service: WindowsService, updater: WindowsService | None, node_config: Mapping[str, str]
) -> NodeSetup:
    """The node of Storj's Windows installer: services storagenode and storagenode-updater."""
    args = service.command[1:]
    config_dir = flag_value(args, "config-dir")
    if config_dir and len(config_dir) > 3:
        config_dir = config_dir.rstrip("\\")
    handover = []
    for item, role in ((updater, "updater"), (service, "node")):
        if item is not None:
            handover.append(
                Handover(
                    "windows-service",
                    item.name,
                    "updater" if role == "updater" else "node",
                    {"start": item.start_type, "running": item.running},
                )
            )
    return NodeSetup(
        kind="windows",
        description=f"Windows service {service.name}",
        binary=service.command[0] if service.command else None,
        args=tuple(args),
        config_dir=config_dir,
        identity_dir=flag_value(args, "identity-dir"),
        node_config=dict(node_config),
        service_account=service.account,
        handover=tuple(handover),
    )
