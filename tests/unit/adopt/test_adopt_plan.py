"""The identity choice and the adoption plan, decided without touching the system."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from nodekeeper.core.adopt import docker
from nodekeeper.core.adopt.errors import AdoptUsageError
from nodekeeper.core.adopt.identity import candidates, choose_identity
from nodekeeper.core.adopt.model import Identity, NodeSetup
from nodekeeper.core.adopt.plan import build_plan, node_command
from nodekeeper.core.adopt.setups import docker_setup, systemd_setup, windows_setup
from nodekeeper.core.adopt.units import parse_unit
from nodekeeper.core.adopt.windows import SYSTEM_APPDATA, parse_service
from nodekeeper.core.config.reader import config_from_dict
from tests.fixtures.storj_identity import make_identity
from tests.fixtures.storj_setups import NODE_UNIT, docker_inspect
from tests.unit.adopt.test_adopt_readers import SC_QC, SC_QUERY

ID = Identity("/id/identity.cert", "test", bytes(32))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, bytes]]:
    """Two identities: name -> (identity.cert bytes, node id)."""
    base = tmp_path_factory.mktemp("ids")
    found = {}
    for name in ("a", "b"):
        node_id = make_identity(base / name)
        found[name] = ((base / name / "identity.cert").read_bytes(), node_id)
    return found


def systemd(config: dict[str, str] | None = None) -> NodeSetup:
    unit = parse_unit(NODE_UNIT)
    return systemd_setup(
        "/lib/systemd/system/storagenode.service",
        unit,
        "/var/lib/storagenode",
        config or {},
        "storagenode-updater.service",
    )


def test_the_nodes_own_identity_dir_wins_over_default_places(certs: dict) -> None:
    setup = systemd({"identity.cert-path": "/cfg/identity.cert"})
    files = {
        "/cfg/identity.cert": certs["a"][0],
        "/etc/storagenode/identity/identity.cert": certs["b"][0],
    }
    identity = choose_identity(candidates(setup, windows=False), files.get)
    assert identity.node_id == certs["a"][1]
    assert identity.where == "identity.cert-path in config.yaml"


def test_a_missing_configured_identity_is_an_error_not_a_guess(certs: dict) -> None:
    setup = systemd({"identity.cert-path": "/gone/identity.cert"})
    files = {"/etc/storagenode/identity/identity.cert": certs["a"][0]}
    with pytest.raises(AdoptUsageError, match=r"/gone/identity\.cert"):
        choose_identity(candidates(setup, windows=False), files.get)


def test_one_identity_in_default_places_is_taken_two_are_refused(certs: dict) -> None:
    setup = systemd()
    xdg = "/var/lib/storagenode/.local/share/storj/identity/storagenode/identity.cert"
    same = {"/etc/storagenode/identity/identity.cert": certs["a"][0], xdg: certs["a"][0]}
    assert choose_identity(candidates(setup, False), same.get).node_id == certs["a"][1]
    both = {"/etc/storagenode/identity/identity.cert": certs["a"][0], xdg: certs["b"][0]}
    with pytest.raises(AdoptUsageError, match="2 different identities"):
        choose_identity(candidates(setup, False), both.get)


def test_windows_looks_in_the_service_accounts_appdata(certs: dict) -> None:
    service = parse_service("storagenode", SC_QC, SC_QUERY)
    setup = windows_setup(service, None, {})
    found = candidates(setup, windows=True)
    assert found[-1].cert == SYSTEM_APPDATA + "\\Storj\\Identity\\storagenode\\identity.cert"
    identity = choose_identity(found, {found[-1].cert: certs["a"][0]}.get)
    assert identity.node_id == certs["a"][1]


def test_windows_plan_stops_the_updater_first_and_keeps_the_start_types() -> None:
    node = parse_service("storagenode", SC_QC, SC_QUERY)
    updater = parse_service("storagenode-updater", SC_QC.replace("2   AUTO", "3   DEMAND"), "")
    setup = windows_setup(node, updater, {"log.output": "winfile:///C:/sn.log"})
    assert setup.config_dir == r"C:\Program Files\Storj\Storage Node"
    plan = build_plan(
        setup, ID, "storagenode", r"C:\ProgramData\nodekeeper\storagenode.toml", "windows"
    )
    kinds = [(s.kind, s.target) for s in plan.steps]
    assert kinds == [
        ("write-config", r"C:\ProgramData\nodekeeper\storagenode.toml"),
        ("windows-service", "storagenode-updater"),
        ("windows-service", "storagenode"),
        ("nodekeeper-service", r"C:\ProgramData\nodekeeper\storagenode.toml"),
    ]
    assert plan.steps[1].before == {"start": "demand", "running": False}
    assert plan.steps[2].before == {"start": "auto", "running": True}
    data = tomllib.loads(plan.config_text)
    # The installer's log file would hide the node's output from the core.
    assert "--log.output=stderr" in data["node"]["command"]
    assert data["node"]["stop_signal"] == "CTRL_BREAK"


def test_the_written_config_is_one_the_core_accepts(tmp_path: Path) -> None:
    plan = build_plan(systemd(), ID, "sn1", str(tmp_path / "sn1.toml"), "linux")
    data = tomllib.loads(plan.config_text)
    data["paths"] = {"data_dir": str(tmp_path / "data"), "socket": str(tmp_path / "s.sock")}
    config = config_from_dict(data, tmp_path / "sn1.toml")
    assert config.instance == "sn1"
    assert config.node.command[:2] == ("{binary}", "run")
    assert config.node.stop_timeout == 300


def test_docker_published_ports_become_node_flags() -> None:
    item = docker_inspect("sn", "/mnt/sn", "/id/sn", console_port="14010")
    item["HostConfig"]["PortBindings"]["28967/tcp"] = [{"HostIp": "", "HostPort": "28970"}]
    (container,) = docker.parse_inspect([item], "x")
    setup = docker_setup(container, {"storage.path": "/app/config/storage"}, "/bin/sn")
    command = node_command(setup, Identity("/id/sn/identity.cert", "x", bytes(32)))
    assert "--server.address=:28970" in command
    assert "--console.address=127.0.0.1:14010" in command
    assert "--storage.path=/mnt/sn/storage" in command
