"""What `nodekeeper init` finds and decides, as plain frozen data (no I/O here)."""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SetupKind = Literal["systemd", "docker", "windows", "flags"]
StepKind = Literal[
    "write-config", "docker-binary", "systemd-unit", "docker-container", "windows-service",
    "nodekeeper-service",
]  # fmt: skip


def _empty() -> Mapping[str, Any]:
    return types.MappingProxyType({})


@dataclass(frozen=True)
class Handover:
    """Something of Storj's that must stop running once nodekeeper runs the node."""

    kind: Literal["systemd-unit", "docker-container", "windows-service"]
    name: str
    role: Literal["node", "updater"]
    # What was there, when detection already knows it (docker, Windows); systemd
    # units are looked at just before they are changed.
    before: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True)
class NodeSetup:
    """A storage node as it is started today, in nodekeeper's terms."""

    kind: SetupKind
    description: str  # e.g. "systemd unit storagenode.service (/lib/systemd/system/...)"
    binary: str | None  # the node executable on this machine; None: taken out of docker
    args: tuple[str, ...]  # the node's arguments after the executable, host paths
    config_dir: str | None
    identity_dir: str | None  # the node's --identity-dir, when it has one
    node_config: Mapping[str, str] = field(default_factory=_empty)  # its config.yaml
    user: str | None = None
    home: str | None = None  # the node user's home, for Storj's default identity place
    service_account: str | None = None  # Windows
    env: Mapping[str, str] = field(default_factory=_empty)
    console_address: str | None = None  # overrides config.yaml (docker: the published port)
    handover: tuple[Handover, ...] = ()
    container: str | None = None  # docker: where the binary is copied from


@dataclass(frozen=True)
class IdentityCandidate:
    where: str  # for the operator: "the node's --identity-dir", ...
    cert: str  # path of identity.cert
    authoritative: bool  # the node itself is configured to use it


@dataclass(frozen=True)
class Identity:
    cert: str
    where: str
    node_id: bytes

    @property
    def directory(self) -> str:
        sep = "\\" if "\\" in self.cert and "/" not in self.cert else "/"
        return self.cert.rsplit(sep, 1)[0]


@dataclass(frozen=True)
class Step:
    """One thing `init` does, and `--undo` takes back."""

    kind: StepKind
    target: str
    what: str  # the line the operator reads
    before: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True)
class AdoptPlan:
    setup: NodeSetup
    identity: Identity
    instance: str
    config_path: str  # where the config goes on the target system (no --root prefix)
    config_text: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
