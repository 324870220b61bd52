"""`nodekeeper init` as an operator runs it, on Storj setups laid out under --root."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from nodekeeper.core.adopt.journal import journal_path
from nodekeeper.core.config import load_config
from nodekeeper.core.update.nodeid import encode_node_id
from tests.fixtures.storj_identity import make_identity
from tests.fixtures.storj_setups import docker_inspect, docker_root, systemd_root
from tests.helpers import run_cli

CONFIG = "etc/nodekeeper/storagenode.toml"
WANTS = "etc/systemd/system/multi-user.target.wants"


def init(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("init", *args)


def snapshot(root: Path) -> dict[str, tuple[str, object]]:
    """Every folder, file (content and mode) and symlink (target) under root."""
    found: dict[str, tuple[str, object]] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = ("link", os.readlink(path))
        elif path.is_file():
            found[key] = ("file", (path.read_bytes(), path.stat().st_mode & 0o7777))
        else:
            found[key] = ("dir", path.stat().st_mode & 0o7777)
    return found


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


def config_file(root: Path) -> Path:
    return root / CONFIG


def test_systemd_node_is_adopted_and_undo_restores_every_byte(root: Path) -> None:
    node_id = systemd_root(root)
    before = snapshot(root)

    done = init("--root", root)

    assert done.returncode == 0, done.stderr
    assert f"storage node {encode_node_id(node_id)}" in done.stdout
    text = config_file(root).read_text()
    config = load_config(config_file(root))
    assert config.node.command == (
        "{binary}", "run", "--config-dir", "/etc/storagenode",
        "--identity-dir", "/etc/storagenode/identity",
    )  # fmt: skip
    assert str(config.node.initial_binary) == "/var/lib/storagenode/storagenode"
    assert config.node.health_url == "http://127.0.0.1:14002/api/sno"
    assert config.updates.source == "storj"
    assert str(config.logs.dir) == "/var/log/nodekeeper"
    assert encode_node_id(node_id) in text
    # Neither Storj's updater nor the old node starts at boot any more.
    assert not (root / WANTS / "storagenode.service").exists()
    assert not (root / WANTS / "storagenode-updater.service").is_symlink()
    unit = (root / "etc/systemd/system/nodekeeper-storagenode.service").read_text()
    assert f"--config {'/' + CONFIG}\n" in unit
    assert journal_path(config_file(root)).is_file()

    undone = init("--undo", "--root", root)

    assert undone.returncode == 0, undone.stderr
    assert snapshot(root) == before


def test_dry_run_prints_every_step_and_changes_nothing(root: Path) -> None:
    systemd_root(root)
    before = snapshot(root)

    done = init("--dry-run", "--root", root)

    assert done.returncode == 0, done.stderr
    assert snapshot(root) == before
    out = done.stdout
    for expected in (
        f"write /{CONFIG}",
        'command = ["{binary}", "run", "--config-dir", "/etc/storagenode"',
        "storagenode-updater.service",
        "systemctl disable --now storagenode.service",
        "nodekeeper-storagenode.service",
    ):
        assert expected in out, expected
    # The updater is stopped before the node it could restart.
    assert out.index("storagenode-updater.service (updater)") < out.index(
        "storagenode.service (node)"
    )


def test_second_init_is_refused_until_undone(root: Path) -> None:
    systemd_root(root)
    assert init("--root", root).returncode == 0
    again = init("--root", root)
    assert again.returncode == 2
    assert "already adopted" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_docker_container_is_adopted_with_host_paths(root: Path) -> None:
    node_id, inspect = docker_root(root)
    before = snapshot(root)

    done = init("--root", root, "--docker-inspect", inspect)

    assert done.returncode == 0, done.stderr
    assert f"storage node {encode_node_id(node_id)}" in done.stdout
    config = load_config(config_file(root))
    command = config.node.command
    assert command[:6] == (
        "{binary}", "run", "--config-dir", "/mnt/storj",
        "--identity-dir", "/srv/storj/identity/storagenode",
    )  # fmt: skip
    # What the container's variables and mounts meant, in host terms.
    for flag in (
        "--operator.wallet=0x0000000000000000000000000000000000000000",
        "--contact.external-address=node.example.org:28967",
        "--storage.allocated-disk-space=2TB",
        "--storage.path=/mnt/storj/storage",
        "--console.address=127.0.0.1:14002",
        "--operator.wallet-features=zksync-era",
    ):
        assert flag in command, flag
    assert dict(config.node.env) == {"STORJ_STORAGE2_MONITOR_MINIMUM_DISK_SPACE": "100MB"}
    assert config.node.health_url == "http://127.0.0.1:14002/api/sno"
    journal = json.loads(journal_path(config_file(root)).read_text())
    container = [s for s in journal["steps"] if s["kind"] == "docker-container"]
    assert container[0]["before"] == {"running": True, "restart": "unless-stopped"}
    assert "docker update --restart=no storagenode" in done.stdout

    assert init("--undo", "--root", root).returncode == 0
    assert snapshot(root) == before


def test_two_node_containers_are_refused_in_one_line(root: Path, tmp_path: Path) -> None:
    inspect = tmp_path / "two.json"
    inspect.write_text(
        json.dumps(
            [
                docker_inspect("node-a", "/mnt/a", "/id/a"),
                docker_inspect("node-b", "/mnt/b", "/id/b"),
            ]
        )
    )
    done = init("--root", root, "--docker-inspect", inspect)
    assert done.returncode == 2
    assert "found 2 storage nodes" in done.stderr
    assert "--container NAME" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not config_file(root).exists()


def test_two_identities_in_default_places_are_refused(root: Path) -> None:
    systemd_root(root)
    # The node names no identity; two different ones lie where Storj's tools put them.
    yaml = root / "etc/storagenode/config.yaml"
    yaml.write_text(
        "\n".join(line for line in yaml.read_text().splitlines() if "identity." not in line)
    )
    make_identity(root / "var/lib/storagenode/.local/share/storj/identity/storagenode")

    done = init("--root", root)

    assert done.returncode == 2
    assert "found 2 different identities" in done.stderr
    assert "--identity-dir" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_identity_dir_flag_settles_it(root: Path) -> None:
    systemd_root(root)
    other = make_identity(root / "srv/other-identity")
    done = init("--root", root, "--identity-dir", "/srv/other-identity", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"storage node {encode_node_id(other)}" in done.stdout


def test_nothing_to_adopt_says_what_to_pass(root: Path) -> None:
    done = init("--root", root)
    assert done.returncode == 2
    assert "no storage node found" in done.stderr
    assert "--binary PATH" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_node_described_by_flags(root: Path) -> None:
    node_id = make_identity(root / "home/sno/identity")
    (root / "home/sno/config").mkdir(parents=True)
    (root / "home/sno/config/config.yaml").write_text("console.address: :14102\n")
    done = init(
        "--root", root, "--binary", "/opt/storj/storagenode",
        "--config-dir", "/home/sno/config", "--identity-dir", "/home/sno/identity",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert encode_node_id(node_id) in done.stdout
    data = tomllib.loads(config_file(root).read_text())
    assert data["node"]["initial_binary"] == "/opt/storj/storagenode"
    assert data["node"]["health_url"] == "http://127.0.0.1:14102/api/sno"


def test_undo_without_init_is_a_one_line_error(root: Path) -> None:
    done = init("--undo", "--root", root)
    assert done.returncode == 2
    assert "nothing to undo" in done.stderr


def test_an_identity_without_its_key_is_refused(root: Path) -> None:
    systemd_root(root)
    (root / "etc/storagenode/identity/identity.key").unlink()
    done = init("--root", root, "--dry-run")
    assert done.returncode == 2
    assert "no private key at /etc/storagenode/identity/identity.key" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_container_name_under_root_asks_for_the_inspect_output(root: Path) -> None:
    done = init("--root", root, "--container", "storagenode")
    assert done.returncode == 2
    assert "--docker-inspect FILE" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
