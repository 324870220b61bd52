"""What `nodekeeper init` writes and does, decided from what it found. Pure.

The configuration reproduces the node's command line with ``{binary}`` in
place of the executable (the old executable is adopted as the first
installed version), the identity and config dirs as absolute paths, the
health URL from the dashboard address, the node's logs on stderr (where
the core captures them) and the ``storj`` update source. The steps stop
everything of Storj's that would run the node or update it a second time
before nodekeeper's service starts the node.
"""

from __future__ import annotations

from typing import Any

from nodekeeper.core.adopt.model import AdoptPlan, Identity, NodeSetup, Step
from nodekeeper.core.adopt.storjconfig import health_url, setting, without_flag
from nodekeeper.core.config.writer import to_toml
from nodekeeper.core.update.nodeid import encode_node_id

BINARY = "{binary}"
# Storj asks for up to 300 s to stop a node gracefully (`docker stop -t 300`).
STOP_TIMEOUT = "300s"
LOG_DIRS = {"linux": "/var/log/nodekeeper"}
# The node logs to stderr unless told otherwise; the core captures stderr.
LOG_OUTPUT = "stderr"


def node_command(setup: NodeSetup, identity: Identity) -> list[str]:
    """``{binary} run --config-dir D --identity-dir I ...``: the node's arguments, paths made explicit."""
    args = list(setup.args) or ["run"]
    args = without_flag(without_flag(args, "config-dir"), "identity-dir")
    rest = args[1:] if args and not args[0].startswith("-") else args
    verb = args[0] if args and not args[0].startswith("-") else "run"
    command = [BINARY, verb]
    if setup.config_dir:
        command += ["--config-dir", setup.config_dir]
    command += ["--identity-dir", identity.directory]
    if setup.console_address is not None:
        rest = [
            *without_flag(rest, "console.address"),
            f"--console.address={setup.console_address}",
        ]
    output = setting(rest, setup.node_config, "log.output")
    if output not in (None, "", LOG_OUTPUT):
        rest = [*without_flag(rest, "log.output"), f"--log.output={LOG_OUTPUT}"]
    return command + rest


def config_data(
    setup: NodeSetup, identity: Identity, instance: str, os_name: str
) -> dict[str, Any]:
    node: dict[str, Any] = {"command": node_command(setup, identity)}
    if setup.binary:
        node["initial_binary"] = setup.binary
    if setup.env:
        node["env"] = dict(setup.env)
    node["stop_signal"] = "CTRL_BREAK" if os_name == "windows" else "SIGINT"
    node["stop_timeout"] = STOP_TIMEOUT
    console = setup.console_address or setting(setup.args, setup.node_config, "console.address")
    node["health_url"] = health_url(console)
    data: dict[str, Any] = {
        "instance": instance,
        "node": node,
        "updates": {"source": "storj", "process": "storagenode"},
    }
    if os_name in LOG_DIRS:
        data["logs"] = {"dir": LOG_DIRS[os_name]}
    return data


def config_text(setup: NodeSetup, identity: Identity, instance: str, os_name: str) -> str:
    header = [
        f"# Written by `nodekeeper init` from {setup.description}.",
        f"# Storage node {encode_node_id(identity.node_id)} (identity: {identity.cert}).",
        "# `nodekeeper init --undo` puts the previous setup back.",
    ]
    body = to_toml(config_data(setup, identity, instance, os_name))
    return "\n".join(header) + "\n" + body


def steps(setup: NodeSetup, config_path: str) -> tuple[Step, ...]:
    """In order: the config, the binary out of docker, Storj's updater, the old node, our service."""
    done = [Step("write-config", config_path, f"write {config_path}")]
    if setup.container is not None and setup.binary is not None:
        done.append(
            Step(
                "docker-binary",
                setup.binary,
                f"copy the node binary out of container {setup.container} to {setup.binary}",
                {"container": setup.container},
            )
        )
    # The updater first: it could otherwise restart the node it updates.
    for item in sorted(setup.handover, key=lambda h: h.role != "updater"):
        if item.kind == "systemd-unit":
            what = f"stop and disable systemd unit {item.name} ({item.role})"
        elif item.kind == "docker-container":
            what = f"stop container {item.name} and turn off its restart policy"
        else:
            what = f"stop Windows service {item.name} and set it to disabled ({item.role})"
        done.append(Step(item.kind, item.name, what, item.before))
    done.append(
        Step(
            "nodekeeper-service",
            config_path,
            "register and start nodekeeper's service (`nodekeeper service install`)",
        )
    )
    return tuple(done)


def build_plan(
    setup: NodeSetup, identity: Identity, instance: str, config_path: str, os_name: str
) -> AdoptPlan:
    notes = []
    if setup.user and setup.user != "root" and os_name == "linux":
        notes.append(
            f"the node ran as user {setup.user}; nodekeeper's service runs it as root, "
            f"so keep its files readable (or add User={setup.user} in a drop-in)"
        )
    return AdoptPlan(
        setup=setup,
        identity=identity,
        instance=instance,
        config_path=config_path,
        config_text=config_text(setup, identity, instance, os_name),
        steps=steps(setup, config_path),
        notes=tuple(notes),
    )
