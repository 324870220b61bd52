"""A storage node container as ``docker inspect`` describes it.

Storj's image (``storjlabs/storagenode``) works in ``/app``: it runs
``storagenode run --config-dir config --identity-dir identity`` with
``/app/config`` and ``/app/identity`` bind-mounted from the host, turns the
variables ``WALLET``, ``EMAIL``, ``ADDRESS``, ``STORAGE`` and ``LOG_LEVEL``
into flags, and serves the dashboard on ``0.0.0.0:14002`` inside the
container. This module maps all of that back to host paths and flags.
Pure: parsed JSON in, values out.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nodekeeper.core.adopt.errors import AdoptUsageError

STORJ_IMAGE = "storjlabs/storagenode"
WORKDIR = "/app"
CONFIG_MOUNT = "/app/config"
IDENTITY_MOUNT = "/app/identity"
NODE_BINARY = "/app/storagenode"
# The entrypoint's variables and the node flags it turns them into.
ENV_FLAGS = {
    "STORAGE": "storage.allocated-disk-space",
    "ADDRESS": "contact.external-address",
    "EMAIL": "operator.email",
    "WALLET": "operator.wallet",
    "LOG_LEVEL": "log.level",
}
# Node settings that hold paths, which must point at the host once the node leaves docker.
PATH_SETTINGS = ("storage.path", "storage2.database-dir")


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    running: bool
    restart_policy: str
    env: Mapping[str, str]
    args: tuple[str, ...]
    mounts: Mapping[str, str]  # destination in the container -> source on the host
    ports: Mapping[str, tuple[str, str]]  # "14002/tcp" -> (host ip, host port)
    workdir: str


def parse_inspect(data: Any, origin: str) -> list[Container]:
    """Every container of a ``docker inspect`` answer (a list of objects)."""
    items = data if isinstance(data, list) else [data]
    found = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Config"), dict):
            raise AdoptUsageError(f"{origin}: not the output of `docker inspect CONTAINER`")
        found.append(_container(item))
    return found


def _container(item: Mapping[str, Any]) -> Container:
    config: Mapping[str, Any] = item.get("Config") or {}
    host: Mapping[str, Any] = item.get("HostConfig") or {}
    state: Mapping[str, Any] = item.get("State") or {}
    env: dict[str, str] = {}
    for entry in config.get("Env") or []:
        name, _, value = str(entry).partition("=")
        env[name] = value
    mounts = {
        str(m.get("Destination")): str(m.get("Source"))
        for m in item.get("Mounts") or []
        if isinstance(m, dict) and m.get("Destination") and m.get("Source")
    }
    ports: dict[str, tuple[str, str]] = {}
    for port, bindings in (host.get("PortBindings") or {}).items():
        if bindings:
            first = bindings[0]
            ports[str(port)] = (str(first.get("HostIp") or ""), str(first.get("HostPort") or ""))
    policy = host.get("RestartPolicy") or {}
    return Container(
        name=str(item.get("Name") or "").lstrip("/"),
        image=str(config.get("Image") or ""),
        running=bool(state.get("Running")),
        restart_policy=str(policy.get("Name") or "no"),
        env=env,
        args=tuple(str(a) for a in config.get("Cmd") or ()),
        mounts=mounts,
        ports=ports,
        workdir=str(config.get("WorkingDir") or WORKDIR),
    )


def is_storagenode(container: Container) -> bool:
    image = container.image.split("@", 1)[0]
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return repository in (STORJ_IMAGE, f"docker.io/{STORJ_IMAGE}")


def host_path(container: Container, path: str) -> str | None:
    """Where a path the node sees inside the container is on the host, if it is mounted."""
    absolute = posixpath.normpath(posixpath.join(container.workdir, path))
    for destination, source in sorted(container.mounts.items(), key=lambda m: -len(m[0])):
        if absolute == destination or absolute.startswith(destination.rstrip("/") + "/"):
            rest = absolute[len(destination) :].lstrip("/")
            return posixpath.join(source, rest) if rest else source
    return None


def node_flags(container: Container) -> list[str]:
    """The flags the entrypoint adds from the container's variables, then the container's args."""
    flags = [
        f"--{flag}={container.env[var]}"
        for var, flag in ENV_FLAGS.items()
        if container.env.get(var)
    ]
    return flags + list(container.args)


def node_env(container: Container) -> dict[str, str]:
    """The node's own ``STORJ_*`` settings, kept as they were (the console one is replaced)."""
    return {
        name: value
        for name, value in container.env.items()
        if name.startswith("STORJ_") and name != "STORJ_CONSOLE_ADDRESS"
    }


def published(container: Container, port: str) -> tuple[str, str] | None:
    """(host ip, host port) of a container port such as ``"14002/tcp"``, if published."""
    return container.ports.get(port)


def console_address(container: Container) -> str:
    """Where the dashboard was reachable from the host: its published port, else loopback."""
    binding = published(container, "14002/tcp")
    if binding is None or not binding[1]:
        return "127.0.0.1:14002"
    ip, port = binding
    return f"{'' if ip in ('', '0.0.0.0') else ip}:{port}"


def server_port(container: Container) -> str | None:
    binding = published(container, "28967/tcp")
    return binding[1] if binding and binding[1] else None


def mapped_settings(container: Container, config: Mapping[str, str]) -> list[str]:
    """``--key=host path`` for each path setting of config.yaml that pointed into the container."""
    flags = []
    for key in PATH_SETTINGS:
        value = config.get(key)
        if not value:
            continue
        mapped = host_path(container, value)
        if mapped is not None and mapped != value:
            flags.append(f"--{key}={mapped}")
    return flags


def storagenode_containers(containers: Sequence[Container]) -> list[Container]:
    return [c for c in containers if is_storagenode(c)]
